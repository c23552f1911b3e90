import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Env } from '../core/env.ts';
import { ensurePrivateDirectory, ownedByUs, readRegularFile, replaceFileAtomically } from '../core/private-files.ts';

/**
 * The helper's own directory, `$HOME/.regauth/helper` (0700), and the only ways regauth writes
 * and reads there: nothing it did not create is trusted, so a link, a file of another user or a
 * directory others can write is refused rather than followed.
 */
export function helperDir(env: Env): string {
  return join(env.HOME || homedir(), HELPER_HOME_PATH);
}

/** The names the bash helper reads too (src/refresh/helper-script.ts builds its paths from these). */
export const HELPER_HOME_PATH = '.regauth/helper';
export const HELPER_FILES = { node: 'node', bundles: 'bundles', bundleExtension: '.cjs', routes: 'routes', cache: 'cache', job: 'job' } as const;

export const layout = (dir: string) => ({
  node: join(dir, HELPER_FILES.node),
  bundle: (kind: string) => join(dir, HELPER_FILES.bundles, `${kind}${HELPER_FILES.bundleExtension}`),
  recipe: (group: string) => join(dir, 'recipes', `${group}.json`),
  route: (host: string) => join(dir, HELPER_FILES.routes, host),
  cache: (name: string) => join(dir, HELPER_FILES.cache, name),
  lock: (group: string) => join(dir, 'locks', `${group}.lock`),
  fallbackBin: join(dir, 'bin'),
  /** The job that logged in (src/refresh/job.ts): the helper serves and renews for it alone. */
  job: join(dir, HELPER_FILES.job),
  /** Put there by logout before it removes the directory: no refresh writes once it exists (src/refresh/fence.ts). */
  fence: join(dir, 'fenced'),
});

/**
 * A directory regauth owns, created 0700 with any missing level (none followed through a link);
 * a link, a file or someone else's directory is refused (src/core/private-files.ts).
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await ensurePrivateDirectory(dir, { parents: true });
}

/** Writes through a temp file in the same directory and a rename (the one writer in src/core). */
export async function writeAtomic(file: string, text: string, mode = 0o600, privateDir = true): Promise<void> {
  if (privateDir) await ensurePrivateDir(dirname(file));
  await replaceFileAtomically(file, text, mode);
}

/**
 * The helper's write path after login (refreshes, docker's `store`): only into a directory regauth
 * made that still exists, checked without following a link, and never creating one, so a refresh
 * that outlives logout cannot bring the helper's directory back.
 */
export async function writeIntoExisting(file: string, text: string): Promise<void> {
  const parent = await fs.lstat(dirname(file)).catch(() => undefined);
  if (!parent?.isDirectory() || !ownedByUs(parent)) throw new Error(`${dirname(file)} is gone or not regauth's own; regauth/logout may have run`);
  await replaceFileAtomically(file, text);
}

/** The file's text when it is a regular file of this user (not a link); undefined when missing or untrusted. */
export async function readOwned(file: string): Promise<string | undefined> {
  const read = await readRegularFile(file);
  return read.kind === 'text' && ownedByUs(read.stat) ? read.text : undefined;
}

export async function removeQuietly(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
  } catch {
    return false;
  }
  await fs.rm(path, { recursive: true, force: true });
  return true;
}
