import type { CommandMain } from '../core/cli.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { loginToEcrRegistries } from './shared/ecr-docker-login.ts';
import { parseEcrStaticInputs } from '../clouds/aws/inputs.ts';

/** regauth/ecr-login: ECR with static keys (no STS call). */
export const main: CommandMain = async (env, reporter, retry: RetryDeps = realRetryDeps) => {
  const inputs = parseEcrStaticInputs(env);
  reporter.redactor.add(inputs.secretAccessKey);
  reporter.redactor.add(inputs.sessionToken);
  const credentials = { accessKeyId: inputs.accessKeyId, secretAccessKey: inputs.secretAccessKey, ...(inputs.sessionToken ? { sessionToken: inputs.sessionToken } : {}) };
  await loginToEcrRegistries(inputs, credentials, { docker: { run: runProcess, env }, reporter, retry, identity: `the keys in ${inputs.accessKeyName}`, renewal: 'does not renew (static keys)' });
  return 0;
};
