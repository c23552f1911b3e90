import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
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
  type AuthEntry,
  type LockDeps,
  type LoginRecord,
  type RegauthState,
} from './config.ts';
import { regauthHome, removeOwnedFile } from '../core/private-files.ts';
import { remote } from '../core/output.ts';
import { parseRegistryHost } from '../registry/host.ts';
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
      // What was there before regauth's first login to this key is what logout gives back.
      const ownAuth = config.auths?.[target.configKey];
      let record: LoginRecord = previous ?? { key: target.configKey, helperOptOut: false, ...(ownAuth && !helper ? { replacedAuth: { ...ownAuth } } : {}) };
      let addedOptOut = false;
      if (helper !== undefined && !(await (deps.onPath ?? ((name: string) => isOnPath(name, deps.env.PATH)))(`docker-credential-${helper}`))) {
        // docker would fail with "executable file not found": an empty helper for this one
        // host makes docker keep its credentials in config.json (0600) and leaves the rest alone.
        const own = config.credHelpers?.[target.configKey];
        record = { key: target.configKey, helperOptOut: true, ...(own ? { replacedHelper: own } : {}), ...(ownAuth ? { replacedAuth: { ...ownAuth } } : {}) };
        config.credHelpers = { ...config.credHelpers, [target.configKey]: '' };
        await writeDockerConfig(dir, config);
        addedOptOut = true;
        outcome.helperNote = `credential helper docker-credential-${helper} is configured but not installed; credentials for ${target.host} go to ${join(dir, 'config.json')} instead`;
      }
      // The intent is on record before docker writes anything: a step killed during docker
      // login leaves a credential that logout knows about.
      await recordLogin(dir, state, record);
      // docker keeps config.json's mode when it rewrites it: make it 0600 before the credential goes in.
      await tightenConfigFile(dir);
      const args = ['login', '--username', username, '--password-stdin'];
      if (target.serverArgument !== undefined) args.push(target.serverArgument);
      const result = await deps.run({ command: 'docker', args, stdin: password, env: { ...deps.env, DOCKER_CONFIG: dir } });
      if (result.exitCode !== 0) {
        if (addedOptOut) await removeHelperOptOut(dir, record);
        // docker wrote nothing: a first login's record goes again; an earlier login's stays.
        if (previous === undefined) await forgetLogin(dir, target.configKey);
        else await recordLogin(dir, await readState(dir), previous);
        throw new DockerCommandError(args, result.exitCode, `${result.stderr}\n${result.stdout}`);
      }
      return outcome;
    },
    deps.lock,
  );
}

async function recordLogin(dir: string, state: RegauthState, record: LoginRecord): Promise<void> {
  state.logins = state.logins.filter((login) => login.key !== record.key);
  state.logins.push(record);
  await writeState(dir, state);
}

async function forgetLogin(dir: string, key: string): Promise<void> {
  const state = await readState(dir);
  state.logins = state.logins.filter((login) => login.key !== key);
  await writeState(dir, state);
}

export interface LogoutReport {
  loggedOut: string[];
  removedFiles: string[];
  /** Entries of the state file that were not acted on, and why (it is not trusted). */
  ignored: string[];
}

/**
 * Logs out of `targets`; with `targets` undefined, of everything the state file records. The
 * state file may come from a cache, a workspace or a shared DOCKER_CONFIG: only keys that parse
 * as registry hosts reach docker, and only files that regauth itself could have written (inside
 * its own directory, regular files of ours, no links) are deleted.
 */
export async function dockerLogout(deps: DockerDeps, targets: RegistryTarget[] | undefined): Promise<LogoutReport> {
  const dir = dockerConfigDir(deps.env);
  return withConfigLock(
    dir,
    async () => {
      const state = await readState(dir);
      const report: LogoutReport = { loggedOut: [], removedFiles: [], ignored: [] };
      const chosen: RegistryTarget[] = [];
      if (targets) chosen.push(...targets);
      else {
        for (const login of state.logins) {
          const parsed = parseRegistryHost(login.key);
          if ('error' in parsed || parsed.configKey !== login.key) {
            report.ignored.push(`a recorded login to ${remote(login.key)}, which is not a registry host`);
            state.logins = state.logins.filter((l) => l !== login);
            continue;
          }
          chosen.push(parsed);
        }
      }
      for (const target of chosen) {
        const args = target.serverArgument === undefined ? ['logout'] : ['logout', target.serverArgument];
        const result = await deps.run({ command: 'docker', args, env: { ...deps.env, DOCKER_CONFIG: dir } });
        if (result.exitCode !== 0) throw new DockerCommandError(args, result.exitCode, `${result.stderr}\n${result.stdout}`);
        const record = state.logins.find((login) => login.key === target.configKey);
        if (record?.helperOptOut) await removeHelperOptOut(dir, record);
        if (record?.replacedAuth) await restoreAuth(dir, record.key, record.replacedAuth);
        state.logins = state.logins.filter((login) => login.key !== target.configKey);
        report.loggedOut.push(target.configKey);
      }
      if (!targets) {
        const base = regauthHome(deps.env);
        for (const file of state.secretFiles) {
          const outcome = await removeOwnedFile(base, file);
          if (outcome.removed) report.removedFiles.push(file);
          else if (outcome.why !== 'already gone') report.ignored.push(`recorded file ${remote(file)} (${outcome.why}); left alone`);
        }
        state.secretFiles = [];
      }
      await writeState(dir, state);
      return report;
    },
    deps.lock,
  );
}

/**
 * Records files that will hold secrets (an exported profile) so logout removes them. Called
 * BEFORE they are written, so a step killed while writing leaves nothing logout cannot see.
 */
export async function rememberSecretFiles(env: Env, files: readonly string[], lock?: LockDeps): Promise<void> {
  const dir = dockerConfigDir(env);
  await withConfigLock(
    dir,
    async () => {
      const state = await readState(dir);
      for (const file of files) if (!state.secretFiles.includes(file)) state.secretFiles.push(file);
      await writeState(dir, state);
    },
    lock,
  );
}

/** One file; see rememberSecretFiles. */
export async function rememberSecretFile(env: Env, file: string, lock?: LockDeps): Promise<void> {
  await rememberSecretFiles(env, [file], lock);
}

/** Puts back the `auths` entry regauth's login replaced (docker logout has just removed regauth's). */
async function restoreAuth(dir: string, key: string, entry: AuthEntry): Promise<void> {
  const config = await readDockerConfig(dir);
  config.auths = { ...config.auths, [key]: entry };
  await writeDockerConfig(dir, config);
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

/**
 * config.json at 0600 before docker writes a credential into it (docker keeps an existing file's
 * mode): a missing one is created 0600; a link or anything else is refused by readDockerConfig.
 */
async function tightenConfigFile(dir: string): Promise<void> {
  const file = join(dir, 'config.json');
  let handle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await writeDockerConfig(dir, {});
    return;
  }
  try {
    const stat = await handle.stat();
    if (stat.isFile() && (stat.mode & 0o077) !== 0) await handle.chmod(0o600);
  } finally {
    await handle.close();
  }
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
