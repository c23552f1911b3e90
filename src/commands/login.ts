import type { CommandMain } from '../core/cli.ts';
import { loginWithRetry } from '../docker/login.ts';
import { parseLoginInputs } from '../inputs/login.ts';
import { loginLine } from '../core/output.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';

/** regauth/login: one registry, credentials from two environment variables. */
export const main: CommandMain = async (env, reporter, retryDeps: RetryDeps = realRetryDeps) => {
  const inputs = parseLoginInputs(env);
  reporter.redactor.addCredentials(inputs.username, inputs.password);
  for (const note of inputs.notes) reporter.line(`regauth: ${inputs.target.host}: ${note}`);
  const outcome = await loginWithRetry({ run: runProcess, env }, inputs.target, inputs.username, inputs.password, {
    deps: retryDeps,
    onRetry: (attempt, reason, delay) => reporter.retrying(`login to ${inputs.target.host}`, attempt, reason, delay),
  });
  if (outcome.helperNote) reporter.line(`regauth: ${outcome.helperNote}`);
  reporter.line(loginLine(inputs.target.host, { identity: inputs.username, renewal: 'does not renew (a fixed password)' }, undefined, outcome.attempts));
  return 0;
};
