import type { CommandMain } from '../cli.ts';
import { assertDockerAvailable, classifyLoginFailure, dockerLogin } from '../docker.ts';
import { UserError } from '../errors.ts';
import { parseLoginInputs } from '../inputs/login.ts';
import { runProcess } from '../process.ts';
import { realRetryDeps, RetriesExhausted, withRetry, type RetryDeps } from '../retry.ts';

export const LOGIN_RETRY = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 8000, maxServerWaitMs: 30_000 };

/** regauth/login: one registry, credentials from two environment variables. */
export const main: CommandMain = async (env, reporter, retryDeps: RetryDeps = realRetryDeps) => {
  const inputs = parseLoginInputs(env);
  reporter.redactor.add(inputs.password);
  for (const note of inputs.notes) reporter.line(`regauth: ${inputs.target.host}: ${note}`);
  try {
    const { value, attempts } = await withRetry(
      () => dockerLogin({ run: runProcess, env }, inputs.target, inputs.username, inputs.password).catch(assertDockerAvailable),
      classifyLoginFailure,
      LOGIN_RETRY,
      retryDeps,
      (attempt, verdict, delay) => reporter.line(`regauth: login to ${inputs.target.host} failed (attempt ${attempt}: ${verdict.reason}); retrying in ${(delay / 1000).toFixed(1)} s`),
    );
    if (value.helperNote) reporter.line(`regauth: ${value.helperNote}`);
    reporter.line(`regauth: logged in to ${inputs.target.host} as ${inputs.username}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`);
    return 0;
  } catch (error) {
    if (error instanceof RetriesExhausted && !(error.last instanceof UserError)) {
      const tries = error.attempts > 1 ? ` after ${error.attempts} attempts` : '';
      throw new UserError(`could not log in to ${inputs.target.host} as ${inputs.username}${tries}: ${error.verdict.reason}${hintFor(error.verdict.reason)}`);
    }
    throw error;
  }
};

function hintFor(reason: string): string {
  if (/refused the credentials/.test(reason)) return '; check the user name and that the token is valid and has pull access';
  if (/no such host/.test(reason)) return '; check the registry parameter';
  return '';
}
