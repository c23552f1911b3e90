import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { classifyDockerOutput } from './classify.ts';
import { DockerCommandError, dockerErrorLine } from './error.ts';
import { UserError } from '../core/errors.ts';
import { isOnPath } from '../core/path-lookup.ts';
import {
  credentialHelperFor,
  dockerConfigDir,
  readDockerConfig,
  readState,
  withConfigLock,
  writeDockerConfig,
  writeState,
  type LockDeps,
  type LoginRecord,
} from './config.ts';
import { remote } from '../core/output.ts';
import type { Env } from '../inputs/common.ts';
import type { RunProcess } from '../core/process.ts';
import type { RegistryTarget } from '../registry/host.ts';
import { RetriesExhausted, withRetry, type RetryDeps, type RetryPolicy, type Verdict } from '../core/retry.ts';

/** docker login / logout through the one process wrapper; the password goes on stdin only. */
export interface DockerDeps {
  run: RunProcess;
  env: Env;
  lock?: LockDeps;
  /** Whether an executable is on PATH (for credential helpers). */
  onPath?: (name: string) => Promise<boolean>;
}

export interface LoginOutcome {
  /** Set when docker was steered away from a credential helper that is not installed. */
  helperNote?: string;
}


export const DOCKER_LOGIN_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 8000, maxServerWaitMs: 30_000 };

/**
 * docker login retried while the failure is transient. A final failure is one UserError line:
 * which registry, as whom, after how many attempts, why, and what to check.
 */
export async function loginWithRetry(
  deps: DockerDeps,
  target: RegistryTarget,
  username: string,
  password: string,
  retry: { deps: RetryDeps; onRetry: (attempt: number, reason: string, delayMs: number) => void },
): Promise<LoginOutcome & { attempts: number }> {
  try {
    const { value, attempts } = await withRetry(
      () => dockerLogin(deps, target, username, password).catch(assertDockerAvailable),
      classifyLoginFailure,
      DOCKER_LOGIN_RETRY,
      retry.deps,
      (attempt, verdict, delayMs) => retry.onRetry(attempt, verdict.reason, delayMs),
    );
    return { ...value, attempts };
  } catch (error) {
    if (!(error instanceof RetriesExhausted)) throw error;
    if (error.last instanceof UserError) throw error.last;
    const tries = error.attempts > 1 ? ` after ${error.attempts} attempts` : '';
    throw new UserError(`could not log in to ${target.host} as ${username}${tries}: ${error.verdict.reason}${loginHint(error.verdict.reason)}`);
  }
}

function loginHint(reason: string): string {
  if (/refused the credentials/.test(reason)) return '; check the user name and that the token is valid and has pull access';
  if (/no such host/.test(reason)) return '; check the registry host';
  return '';
}

export async function dockerLogin(deps: DockerDeps, target: RegistryTarget, username: string, password: string): Promise<LoginOutcome> {
  const dir = dockerConfigDir(deps.env);
  return withConfigLock(
    dir,
    async () => {
      const outcome: LoginOutcome = {};
      const config = await readDockerConfig(dir);
      const helper = credentialHelperFor(config, target.configKey);
      const state = await readState(dir);
      const previous = state.logins.find((login) => login.key === target.configKey);
      let record: LoginRecord = previous ?? { key: target.configKey, helperOptOut: false };
      let addedOptOut = false;
      if (helper !== undefined && !(await (deps.onPath ?? ((name: string) => isOnPath(name, deps.env.PATH)))(`docker-credential-${helper}`))) {
        // docker would fail with "executable file not found": an empty helper for this one
        // host makes docker keep its credentials in config.json (0600) and leaves the rest alone.
        const own = config.credHelpers?.[target.configKey];
        record = { key: target.configKey, helperOptOut: true, ...(own ? { replacedHelper: own } : {}) };
        config.credHelpers = { ...config.credHelpers, [target.configKey]: '' };
        await writeDockerConfig(dir, config);
        addedOptOut = true;
        outcome.helperNote = `credential helper docker-credential-${helper} is configured but not installed; credentials for ${target.host} go to ${join(dir, 'config.json')} instead`;
      }
      const args = ['login', '--username', username, '--password-stdin'];
      if (target.serverArgument !== undefined) args.push(target.serverArgument);
      const result = await deps.run({ command: 'docker', args, stdin: password, env: { ...deps.env, DOCKER_CONFIG: dir } });
      if (result.exitCode !== 0) {
        if (addedOptOut) await removeHelperOptOut(dir, record);
        throw new DockerCommandError(args, result.exitCode, `${result.stderr}\n${result.stdout}`);
      }
      await restrictConfigFile(dir);
      state.logins = state.logins.filter((login) => login.key !== target.configKey);
      state.logins.push(record);
      await writeState(dir, state);
      return outcome;
    },
    deps.lock,
  );
}

export interface LogoutReport {
  loggedOut: string[];
  removedFiles: string[];
}

/** Logs out of `keys` (docker config keys); with `keys` undefined, of everything regauth logged in to. */
export async function dockerLogout(deps: DockerDeps, targets: RegistryTarget[] | undefined): Promise<LogoutReport> {
  const dir = dockerConfigDir(deps.env);
  return withConfigLock(
    dir,
    async () => {
      const state = await readState(dir);
      const keys = targets ? targets.map((t) => ({ key: t.configKey, server: t.serverArgument })) : state.logins.map((l) => ({ key: l.key, server: serverArgumentForKey(l.key) }));
      const report: LogoutReport = { loggedOut: [], removedFiles: [] };
      for (const { key, server } of keys) {
        const args = server === undefined ? ['logout'] : ['logout', server];
        const result = await deps.run({ command: 'docker', args, env: { ...deps.env, DOCKER_CONFIG: dir } });
        if (result.exitCode !== 0) throw new DockerCommandError(args, result.exitCode, `${result.stderr}\n${result.stdout}`);
        const record = state.logins.find((login) => login.key === key);
        if (record?.helperOptOut) await removeHelperOptOut(dir, record);
        state.logins = state.logins.filter((login) => login.key !== key);
        report.loggedOut.push(key);
      }
      if (!targets) {
        for (const file of state.secretFiles) {
          await fs.rm(file, { force: true });
          report.removedFiles.push(file);
          // The profile's own directory goes too once empty; anything else in it stays.
          await fs.rmdir(dirname(file)).catch(() => undefined);
        }
        state.secretFiles = [];
      }
      await writeState(dir, state);
      return report;
    },
    deps.lock,
  );
}

/** Records a secret-holding file (an exported AWS profile) so logout removes it. */
export async function rememberSecretFile(env: Env, file: string, lock?: LockDeps): Promise<void> {
  const dir = dockerConfigDir(env);
  await withConfigLock(
    dir,
    async () => {
      const state = await readState(dir);
      if (!state.secretFiles.includes(file)) state.secretFiles.push(file);
      await writeState(dir, state);
    },
    lock,
  );
}

function serverArgumentForKey(key: string): string | undefined {
  return key === 'https://index.docker.io/v1/' ? undefined : key;
}

/** Undoes an opt-out: the user's own helper entry comes back, or the key goes. */
async function removeHelperOptOut(dir: string, record: LoginRecord): Promise<void> {
  const config = await readDockerConfig(dir);
  if (config.credHelpers && config.credHelpers[record.key] === '') {
    if (record.replacedHelper !== undefined) config.credHelpers[record.key] = record.replacedHelper;
    else delete config.credHelpers[record.key];
    if (Object.keys(config.credHelpers).length === 0) delete config.credHelpers;
    await writeDockerConfig(dir, config);
  }
}

/** docker writes config.json 0600 already; this also covers a file that existed with looser modes. */
async function restrictConfigFile(dir: string): Promise<void> {
  await fs.chmod(join(dir, 'config.json'), 0o600).catch(() => undefined);
}


/**
 * Classifies a failed docker login with the same reading of docker's wording as pull
 * (src/docker/classify.ts): wrong credentials are permanent, network trouble and 5xx/429 are
 * not; wording no rule knows stops (a login retried blindly could lock an account).
 */
export function classifyLoginFailure(error: unknown): Verdict {
  if (!(error instanceof DockerCommandError)) {
    return { kind: 'permanent', reason: error instanceof Error ? error.message : String(error) };
  }
  const verdict = classifyDockerOutput({ exitCode: error.exitCode, output: error.output });
  const detail = remote(verdict?.detail ?? dockerErrorLine(error.output));
  if (verdict === undefined) return { kind: 'permanent', reason: detail };
  if (verdict.category === 'auth') return { kind: 'permanent', reason: `the registry refused the credentials (${detail})` };
  if (verdict.category === 'cli') return { kind: 'permanent', reason: `${verdict.reason} (${detail})` };
  if (verdict.kind === 'transient') return { kind: 'transient', reason: detail, ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}) };
  return { kind: 'permanent', reason: detail };
}


export function assertDockerAvailable(error: unknown): never {
  if (error instanceof Error && /not found on PATH/.test(error.message)) {
    throw new UserError('the docker CLI was not found on PATH: use a machine executor, or an image with the docker CLI (and setup_remote_docker)');
  }
  throw error;
}
