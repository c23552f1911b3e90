import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Env } from '../inputs/common.ts';
import { UserError } from '../core/errors.ts';

/**
 * The helper's own directory, `$HOME/.regauth/helper` (0700), and the only ways regauth writes
 * and reads there: nothing it did not create is trusted, so a link, a file of another user or a
 * directory others can write is refused rather than followed.
 */
export function helperDir(env: Env): string {
  return join(env.HOME || homedir(), '.regauth', 'helper');
}

export const layout = (dir: string) => ({
  node: join(dir, 'node'),
  bundle: (kind: string) => join(dir, 'bundles', `${kind}.cjs`),
  recipe: (group: string) => join(dir, 'recipes', `${group}.json`),
  route: (host: string) => join(dir, 'routes', host),
  cache: (name: string) => join(dir, 'cache', name),
  lock: (group: string) => join(dir, 'locks', `${group}.lock`),
  state: join(dir, 'state.json'),
  fallbackBin: join(dir, 'bin'),
  awsConfig: join(dir, 'aws', 'config'),
});

/** A path in regauth's own directories that is a link, not a directory, or someone else's: refused. */
export class UntrustedPathError extends UserError {}

const uid = (): number => process.getuid?.() ?? -1;

/**
 * A directory regauth owns: created 0700 if missing (each missing level on its own, so no link
 * is followed on the way); a link, a file or someone else's directory is refused.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  let stat = await fs.lstat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!stat) {
    try {
      await fs.mkdir(dir, { mode: 0o700 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(dir) !== dir) {
        await ensurePrivateDir(dirname(dir));
        await fs.mkdir(dir, { mode: 0o700 }).catch((again: NodeJS.ErrnoException) => {
          if (again.code !== 'EEXIST') throw again;
        });
      } else if (code !== 'EEXIST') throw error;
    }
    stat = await fs.lstat(dir);
  }
  if (stat.isSymbolicLink()) throw new UntrustedPathError(`${dir} is a symbolic link; regauth does not follow links in its own directories: remove it`);
  if (!stat.isDirectory()) throw new UntrustedPathError(`${dir} is not a directory: remove it`);
  if (uid() >= 0 && stat.uid !== uid()) throw new UntrustedPathError(`${dir} belongs to another user; regauth keeps its files only in directories of the job's own user`);
  if ((stat.mode & 0o777) !== 0o700) await fs.chmod(dir, 0o700);
}

/** Writes through a temp file in the same directory and a rename: readers see the old or the new file, never half. */
export async function writeAtomic(file: string, text: string, mode = 0o600, privateDir = true): Promise<void> {
  if (privateDir) await ensurePrivateDir(dirname(file));
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await fs.writeFile(temp, text, { mode, flag: 'wx' });
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** The file's text when it is a regular file of this user (not a link); undefined when missing or untrusted. */
export async function readOwned(file: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || (uid() >= 0 && stat.uid !== uid())) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
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
