import { constants, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../core/errors.ts';
import type { Env } from '../inputs/common.ts';

/**
 * The docker client config directory and regauth's own bookkeeping inside it: a lock that
 * serialises regauth's logins (docker's read-modify-write of config.json can lose an entry
 * when two logins overlap), and a state file naming what regauth logged in to, so that
 * `logout` with no parameter removes exactly those entries.
 */
export function dockerConfigDir(env: Env): string {
  const configured = env.DOCKER_CONFIG?.trim();
  return configured ? configured : join(env.HOME ?? homedir(), '.docker');
}

export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** Makes the directory (0700) if missing; refuses a config.json that is a link or not JSON. */
export async function readDockerConfig(dir: string): Promise<DockerConfigFile> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'config.json');
  let stat;
  try {
    stat = await fs.lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  if (stat.isSymbolicLink()) {
    throw new UserError(`${file} is a symbolic link; regauth will not write credentials through a link (it could point anywhere): replace it with a regular file or set DOCKER_CONFIG to a directory of the job's own`);
  }
  if (!stat.isFile()) {
    // A FIFO would block the read forever; a device or directory is no config either.
    throw new UserError(`${file} is not a regular file: replace it with one or set DOCKER_CONFIG to a directory of the job's own`);
  }
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(`${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): fix its permissions or set DOCKER_CONFIG to a directory of the job's own`);
  }
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as DockerConfigFile;
  } catch {
    throw new UserError(`${file} is not valid JSON, so docker cannot use it either: fix it or remove it`);
  }
}

/** Writes config.json the way docker does: a 0600 temp file in the same directory, then rename. */
export async function writeDockerConfig(dir: string, config: DockerConfigFile): Promise<void> {
  const file = join(dir, 'config.json');
  const temp = join(dir, `.config.json.regauth-${process.pid}`);
  await fs.writeFile(temp, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}

/** The credential helper docker would use for `key` (docker's own lookup order). */
export function credentialHelperFor(config: DockerConfigFile, key: string): string | undefined {
  if (config.credHelpers && Object.hasOwn(config.credHelpers, key)) return config.credHelpers[key] || undefined;
  return config.credsStore || undefined;
}

export interface LoginRecord {
  /** The key docker stores the entry under (host[:port], or Docker Hub's index URL). */
  key: string;
  /** True when regauth set `credHelpers[key] = ""` to keep docker away from a missing helper. */
  helperOptOut: boolean;
  /** The user's own `credHelpers[key]` that the opt-out replaced; logout puts it back. */
  replacedHelper?: string;
}

export interface RegauthState {
  logins: LoginRecord[];
  /** Files regauth wrote that hold secrets (exported AWS profiles); logout removes them. */
  secretFiles: string[];
}

const STATE_FILE = 'regauth-state.json';

export async function readState(dir: string): Promise<RegauthState> {
  try {
    const parsed = JSON.parse(await fs.readFile(join(dir, STATE_FILE), 'utf8')) as Partial<RegauthState>;
    return { logins: Array.isArray(parsed.logins) ? parsed.logins : [], secretFiles: Array.isArray(parsed.secretFiles) ? parsed.secretFiles : [] };
  } catch {
    return { logins: [], secretFiles: [] };
  }
}

export async function writeState(dir: string, state: RegauthState): Promise<void> {
  const temp = join(dir, `.${STATE_FILE}.${process.pid}`);
  await fs.writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, join(dir, STATE_FILE));
}

export interface LockDeps {
  sleep: (ms: number) => Promise<void>;
  isAlive: (pid: number) => boolean;
}

export const realLockDeps: LockDeps = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  isAlive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};

const LOCK_POLL_MS = 25;
const LOCK_MAX_POLLS = 2400; // 60 s: a login that holds the lock longer has hung

/**
 * Runs `work` holding an exclusive lock on the config directory. The lock is a file created
 * with O_EXCL holding the owner's pid; a lock whose owner is gone is taken over.
 */
export async function withConfigLock<T>(dir: string, work: () => Promise<T>, deps: LockDeps = realLockDeps): Promise<T> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, '.regauth.lock');
  for (let poll = 0; ; poll++) {
    try {
      const handle = await fs.open(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && !deps.isAlive(owner)) {
        await fs.rm(lock, { force: true });
        continue;
      }
      if (poll >= LOCK_MAX_POLLS) throw new UserError(`another process (pid ${owner || 'unknown'}) has held ${lock} for over a minute: if nothing else is logging in, delete that file`);
      await deps.sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await work();
  } finally {
    await fs.rm(lock, { force: true });
  }
}
