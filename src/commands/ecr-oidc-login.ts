import { awsEcrProvider as aws } from '../clouds/aws/provider.ts';
import { assertAwsConfigWritable, exportProfile, staticCredentialsPath, writeStaticCredentials } from '../clouds/aws/profile.ts';
import type { EcrOidcInputs } from '../clouds/aws/inputs.ts';
import type { CommandMain } from '../core/cli.ts';
import type { Env } from '../core/env.ts';
import type { Reporter } from '../core/output.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { clockTime } from '../core/units.ts';
import { mintAudience } from '../job-token/index.ts';
import { mintAlongside, refreshingCredentialProcess, runHelper, serve, startServing } from '../refresh/index.ts';
import { dockerLoginEcr } from './shared/ecr-docker-login.ts';
import { loginToken } from './shared/job-token.ts';

/** regauth/ecr-oidc-login: OIDC token → STS AssumeRoleWithWebIdentity → ECR → docker login. */
export const main: CommandMain = async (env, reporter, retry: RetryDeps = realRetryDeps) => {
  const inputs = aws.parse(env);
  if (inputs.exportCredentials) await assertAwsConfigWritable(env);
  const token = await loginToken(env, reporter, retry, inputs.audience);
  const audience = mintAudience(inputs.audience, token.claims, env);
  // Refresh on: the helper's directory is made while STS and ECR answer.
  const preparing = startServing(env, inputs.refresh, audience, aws.kind);
  const issuedAtMs = Date.now();
  const { minted, registries } = await mintAlongside(preparing, async () => {
    const minted = await aws.login(inputs, token, { env, reporter, retry });
    return { minted, registries: aws.registries(inputs, minted) };
  });
  const { credentials, logins } = minted;
  reporter.detail(`regauth: assumed ${inputs.roleArn}, credentials valid until ${clockTime(credentials.expiration)}`);

  const served = await serve({
    ...(preparing ? { preparing } : {}),
    env,
    run: runProcess,
    reporter,
    refresh: inputs.refresh,
    audience,
    recipe: aws.recipe(inputs, audience, registries.map((registry) => registry.host), env),
    registries,
    awsCredentials: credentials,
    issuedAtMs,
    lastsUntil: credentials.expiration,
    // Judged as with refresh: false: by a local engine directly (the helper already holds the password), else by docker login.
    dockerLogin: (dockerEnv, engineVerdict) =>
      dockerLoginEcr(logins, { docker: { run: runProcess, env: dockerEnv, engineVerdict, detail: (line) => reporter.detail(line) }, reporter, retry, identity: inputs.roleArn, renewal: 'renews itself' }),
  });
  if (!served) await dockerLoginEcr(logins, { docker: { run: runProcess, env }, reporter, retry, identity: inputs.roleArn, renewal: 'does not renew (refresh: false)' });

  if (inputs.exportCredentials) {
    if (served) await exportAwsProfile(env, inputs, refreshingCredentialProcess(served), reporter, 'its credential_process is docker-credential-regauth, which renews the keys as they near expiry');
    else {
      const credentialProcess = await writeStaticCredentials(env, inputs.profile, credentials);
      await exportAwsProfile(env, inputs, credentialProcess, reporter, `its keys are the ones from this login, in ${staticCredentialsPath(env, inputs.profile)} (mode 0600), valid until ${clockTime(credentials.expiration)}`);
    }
  }
  return 0;
};

/** export_credentials: regauth's profile in the job's own AWS config; AWS_PROFILE for later steps, never a key. */
async function exportAwsProfile(env: Env, inputs: EcrOidcInputs, credentialProcess: string, reporter: Reporter, how: string): Promise<void> {
  const exported = await exportProfile(env, inputs.profile, { region: inputs.region, credential_process: credentialProcess });
  if (exported.replaced === 'user') reporter.line(`regauth: ${exported.file} already had a profile ${exported.name}; regauth's replaces it for this job and logout gives it back`);
  if (exported.replaced === 'regauth') reporter.line(`regauth: replaced the profile ${exported.name} an earlier regauth step of this job exported`);
  reporter.line(`regauth: exported AWS profile ${exported.name} into ${exported.file} (${how}); later steps get AWS_PROFILE=${exported.name} through $BASH_ENV, never a key`);
  // Static keys in the environment win over any profile for the AWS CLI and SDKs; name the variable, never its value.
  if ((env.AWS_ACCESS_KEY_ID ?? '') !== '') reporter.line(`regauth: warning: AWS_ACCESS_KEY_ID is set in this job's environment; the AWS CLI and SDKs use it before any profile, so later steps act as those keys, not as profile ${exported.name}: unset it in steps that should use the role`);
}

/** Entry for `node <bundle> --regauth-helper …` (the refresh half of docker-credential-regauth). */
export const helperMain = (args: readonly string[]): Promise<number> => runHelper(args, { [aws.kind]: aws.refresh });
