import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../core/errors.ts';
import { ownedByUs, readRegularFile, replaceFileAtomically } from '../core/private-files.ts';
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
  await replaceFileAtomically(join(dir, 'config.json'), `${JSON.stringify(config, null, '\t')}\n`);
}

/** The credential helper docker would use for `key` (docker's own lookup order). */
export function credentialHelperFor(config: DockerConfigFile, key: string): string | undefined {
  if (config.credHelpers && Object.hasOwn(config.credHelpers, key)) return config.credHelpers[key] || undefined;
  return config.credsStore || undefined;
}

export type AuthEntry = Record<string, string>;

export interface LoginRecord {
  /** The key docker stores the entry under (host[:port], or Docker Hub's index URL). */
  key: string;
  /** True when regauth set `credHelpers[key] = ""` to keep docker away from a missing helper. */
  helperOptOut: boolean;
  /** The user's own `credHelpers[key]` that the opt-out replaced; logout puts it back. */
  replacedHelper?: string;
  /** The `auths[key]` entry that was there before regauth's first login to `key`; logout puts it back. */
  replacedAuth?: AuthEntry;
}

export interface RegauthState {
  logins: LoginRecord[];
  /** Files regauth wrote that hold secrets (exported AWS profiles); logout removes them. */
  secretFiles: string[];
}

export const STATE_FILE = 'regauth-state.json';

function isAuthEntry(value: unknown): value is AuthEntry {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * The state file's records, each checked for shape; anything else in the file is dropped. The
 * file may come from a cache, a workspace or a shared DOCKER_CONFIG, so what survives here is
 * still only a claim: logout validates each key as a registry host and each path as a file of
 * regauth's own before acting on it.
 */
export function parseState(text: string): RegauthState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { logins: [], secretFiles: [] };
  }
  const raw = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { logins?: unknown; secretFiles?: unknown };
  const logins: LoginRecord[] = [];
  for (const entry of Array.isArray(raw.logins) ? (raw.logins as unknown[]) : []) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { key, helperOptOut, replacedHelper, replacedAuth } = entry as Record<string, unknown>;
    if (typeof key !== 'string' || key === '' || key.length > 300) continue;
    logins.push({
      key,
      helperOptOut: helperOptOut === true,
      ...(typeof replacedHelper === 'string' ? { replacedHelper } : {}),
      ...(isAuthEntry(replacedAuth) ? { replacedAuth } : {}),
    });
  }
  const secretFiles = Array.isArray(raw.secretFiles) ? (raw.secretFiles as unknown[]).filter((file): file is string => typeof file === 'string') : [];
  return { logins, secretFiles };
}

/** Read without following a link or blocking on a FIFO; a state file of another user's is ignored. */
export async function readState(dir: string): Promise<RegauthState> {
  const read = await readRegularFile(join(dir, STATE_FILE));
  if (read.kind !== 'text' || !ownedByUs(read.stat)) return { logins: [], secretFiles: [] };
  return parseState(read.text);
}

export async function writeState(dir: string, state: RegauthState): Promise<void> {
  await replaceFileAtomically(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

export { LOCK_FILE, realLockDeps, STALE_WITHOUT_PID_MS, withConfigLock, type LockDeps } from './lock.ts';
