import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { classifyDockerOutput } from './classify.ts';
import { DockerCommandError, dockerErrorLine } from './error.ts';
import { UserError } from '../core/errors.ts';
import { isOnPath } from '../core/path-lookup.ts';
import { credentialHelperFor, dockerConfigDir, readDockerConfig, withConfigLock, writeDockerConfig, type LockDeps } from './config.ts';
import type { EngineVerdicts } from './engine-auth.ts';
import { record, recordAll, retract, type JournalEntry } from '../core/journal.ts';
import { remote } from '../core/output.ts';
import type { Env } from '../core/env.ts';
import type { RunProcess } from '../core/process.ts';
import type { RegistryTarget } from '../registry/host.ts';
import { RetriesExhausted, withRetry, type RetryDeps, type RetryPolicy, type Verdict } from '../core/retry.ts';

/** docker login through the one process wrapper; the password goes on stdin only (logout: ./logout.ts). */
export interface DockerDeps {
  run: RunProcess;
  env: Env;
  lock?: LockDeps;
  /** Whether an executable is on PATH (for credential helpers). */
  onPath?: (name: string) => Promise<boolean>;
  /**
   * Given by a login whose password docker-credential-regauth already holds (refresh on): the
   * engine's own verdict, asked early (src/docker/engine-auth.ts). Accepted, docker login is not run.
   */
  engineVerdict?: EngineVerdicts;
  /** Debug lines (REGAUTH_DEBUG=1). */
  detail?: (line: string) => void;
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
  const key = target.configKey;
  return withConfigLock(
    dir,
    async () => {
      const outcome: LoginOutcome = {};
      const config = await readDockerConfig(dir);
      const helper = credentialHelperFor(config, key);
      const added: JournalEntry[] = [];
      const note = async (entry: JournalEntry): Promise<void> => {
        if (await record(deps.env, entry)) added.push(entry);
      };
      let optOut: { previous: string | undefined } | undefined;
      if (helper !== undefined && !(await (deps.onPath ?? ((name: string) => isOnPath(name, deps.env.PATH)))(`docker-credential-${helper}`))) {
        // docker would fail with "executable file not found": an empty helper for this one
        // host makes docker keep its credentials in config.json (0600) and leaves the rest alone.
        const own = config.credHelpers?.[key];
        optOut = { previous: own };
        await note({ kind: 'cred-helper', configDir: dir, key, value: '', ...(own !== undefined ? { previous: own } : {}) });
        config.credHelpers = { ...config.credHelpers, [key]: '' };
        await writeDockerConfig(dir, config);
        outcome.helperNote = `credential helper docker-credential-${helper} is configured but not installed; credentials for ${target.host} go to ${join(dir, 'config.json')} instead`;
      }
      // On record before docker writes anything: the entry it replaces (logout gives it back),
      // and the login itself, so a step killed during docker login leaves nothing unrecorded.
      const ownAuth = config.auths?.[key];
      const login: JournalEntry[] = [{ kind: 'docker-auth', configDir: dir, key, ...(ownAuth ? { previous: { ...ownAuth } } : {}) }, { kind: 'docker-login', configDir: dir, key }];
      (await recordAll(deps.env, login)).forEach((isNew, index) => isNew && added.push(login[index] as JournalEntry));
      // docker keeps config.json's mode when it rewrites it: make it 0600 before the credential goes in.
      await tightenConfigFile(dir);
      if (helper === 'regauth' && (await engineAccepted(deps, target))) {
        // What docker login leaves beside a helper's login: an empty entry naming the registry.
        config.auths = { ...config.auths, [key]: {} };
        await writeDockerConfig(dir, config);
        return outcome;
      }
      const args = ['login', '--username', username, '--password-stdin'];
      if (target.serverArgument !== undefined) args.push(target.serverArgument);
      const result = await deps.run({ command: 'docker', args, stdin: password, env: { ...deps.env, DOCKER_CONFIG: dir } });
      if (result.exitCode !== 0) {
        // docker wrote nothing: what this attempt put on record goes again (an earlier login's stays).
        if (optOut && added.some((entry) => entry.kind === 'cred-helper')) await undoOptOut(dir, key, optOut.previous);
        if (added.length > 0) await retract(deps.env, added);
        throw new DockerCommandError(args, result.exitCode, `${result.stderr}\n${result.stdout}`);
      }
      return outcome;
    },
    deps.lock,
  );
}

/** The engine's verdict asked without the docker CLI, when the login's caller asked for one. */
async function engineAccepted(deps: DockerDeps, target: RegistryTarget): Promise<boolean> {
  const asked = deps.engineVerdict?.(target.host);
  if (asked === undefined) return false;
  const verdict = await asked;
  deps.detail?.(verdict.accepted
    ? `regauth: the engine accepted the login to ${target.host} (docker-credential-regauth holds it, so no docker login)`
    : `regauth: docker login to ${target.host}: the engine gave no verdict without it (${verdict.why})`);
  return verdict.accepted;
}

/** Takes back an opt-out written moments ago (already inside the config lock). */
async function undoOptOut(dir: string, key: string, previous: string | undefined): Promise<void> {
  const config = await readDockerConfig(dir);
  if (config.credHelpers?.[key] !== '') return;
  if (previous !== undefined) config.credHelpers[key] = previous;
  else delete config.credHelpers[key];
  if (Object.keys(config.credHelpers).length === 0) delete config.credHelpers;
  await writeDockerConfig(dir, config);
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
