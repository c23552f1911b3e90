import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../core/errors.ts';
import { replaceFileAtomically } from '../core/private-files.ts';
import type { Env } from '../core/env.ts';
import { withConfigLock, type LockDeps } from './lock.ts';

/**
 * The docker client config directory and the lock that serialises regauth's read-modify-write
 * of config.json (docker's own can lose an entry when two logins overlap). What regauth changed
 * there is on record in the journal (src/core/journal.ts), not here.
 *
 * dockerConfigDir is the one place that says where config.json is, as docker decides it:
 * $DOCKER_CONFIG, else ~/.docker (an empty HOME is no home). Logins, refresh and pull all ask it.
 */
export function dockerConfigDir(env: Env): string {
  const configured = env.DOCKER_CONFIG?.trim();
  return configured ? configured : join(env.HOME || homedir(), '.docker');
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
  await replaceFileAtomically(join(dir, 'config.json'), `${JSON.stringify(config, null, '\t')}\n`);
}

/** The credential helper docker would use for `key` (docker's own lookup order). */
export function credentialHelperFor(config: DockerConfigFile, key: string): string | undefined {
  if (config.credHelpers && Object.hasOwn(config.credHelpers, key)) return config.credHelpers[key] || undefined;
  return config.credsStore || undefined;
}

export type AuthEntry = Record<string, string>;

/**
 * Puts `auths[key]` back to `previous` (absent: removes it), under the config lock. What
 * regauth changed is on record in the journal (src/core/journal.ts); this only applies an undo.
 */
export async function restoreAuthEntry(dir: string, key: string, previous: AuthEntry | undefined, lock?: LockDeps): Promise<boolean> {
  return withConfigLock(
    dir,
    async () => {
      const config = await readDockerConfig(dir);
      const current = config.auths?.[key];
      if (previous === undefined) {
        if (current === undefined) return false;
        delete config.auths?.[key];
        if (config.auths && Object.keys(config.auths).length === 0) delete config.auths;
      } else {
        config.auths = { ...config.auths, [key]: previous };
      }
      await writeDockerConfig(dir, config);
      return true;
    },
    lock,
  );
}

/** Undoes a credHelpers entry regauth set to `value`: the user's own comes back, or the key goes. Another value is left alone. */
export async function restoreCredHelper(dir: string, key: string, value: string, previous: string | undefined, lock?: LockDeps): Promise<boolean> {
  return withConfigLock(
    dir,
    async () => {
      const config = await readDockerConfig(dir);
      if (!config.credHelpers || config.credHelpers[key] !== value) return false;
      if (previous !== undefined) config.credHelpers[key] = previous;
      else delete config.credHelpers[key];
      if (Object.keys(config.credHelpers).length === 0) delete config.credHelpers;
      await writeDockerConfig(dir, config);
      return true;
    },
    lock,
  );
}

export { LOCK_FILE, realLockDeps, STALE_WITHOUT_PID_MS, withConfigLock, type LockDeps } from './lock.ts';
