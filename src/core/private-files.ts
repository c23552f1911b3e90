import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, promises as fs, readFileSync, renameSync, writeFileSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { UserError } from './errors.ts';

/**
 * Paths regauth writes, reads back or deletes. Nothing found at such a path is trusted: it is
 * opened without following links and without blocking (a FIFO would hang a read), its type and
 * owner are checked on the opened object, and only then is it used.
 *
 * The small files of a login (journal, locks, the helper's files) are read and written with
 * synchronous calls behind these async functions: each is a few microseconds on a local disk,
 * where the promise API's thread-pool round trip cost the login step about 10 ms in all
 * (`npm run bench -- ecr`). None can block: nothing is opened for writing that is not new
 * (O_EXCL) or O_NONBLOCK, and nothing is read before it is known to be a regular file.
 */

const NO_FOLLOW_READ = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export function describeType(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a named pipe';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function ownUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

export function ownedByUs(stat: Stats): boolean {
  const uid = ownUid();
  return uid === undefined || stat.uid === uid;
}

export type ReadOutcome = { kind: 'text'; text: string; stat: Stats } | { kind: 'missing' } | { kind: 'wrong-type'; what: string } | { kind: 'unreadable'; code: string };

/** Reads a regular file without following a link or blocking on a FIFO. */
export async function readRegularFile(path: string): Promise<ReadOutcome> {
  let fd: number;
  try {
    fd = openSync(path, NO_FOLLOW_READ);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'wrong-type', what: 'a symbolic link' };
    return { kind: 'unreadable', code };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { kind: 'wrong-type', what: describeType(stat) };
    return { kind: 'text', text: readFileSync(fd, 'utf8'), stat };
  } catch (error) {
    return { kind: 'unreadable', code: (error as NodeJS.ErrnoException).code ?? 'error' };
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes `path` a 0700 directory of ours: created when missing; an existing one must be a real
 * directory (not a link) that we own, and is tightened through its own handle, so a link swapped
 * in between the check and the chmod cannot redirect the chmod.
 */
export async function ensurePrivateDirectory(path: string, options: { parents?: boolean } = {}): Promise<void> {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && options.parents && dirname(path) !== path) {
      // Each missing level on its own, each checked: no link is followed on the way.
      await ensurePrivateDirectory(dirname(path), options);
      return ensurePrivateDirectory(path);
    }
    if (code === 'ENOENT') {
      throw new UserError(`${dirname(path)} does not exist, so regauth cannot create ${path} in it`);
    }
    if (code !== 'EEXIST') throw error;
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const stat = await fs.lstat(path).catch(() => undefined);
    const what = stat ? describeType(stat) : `unusable (${code ?? 'error'})`;
    throw new UserError(`${path} is ${what}, not a directory of regauth's own; regauth will not write secrets through it: remove it and run the step again`);
  }
  try {
    const stat = fstatSync(fd);
    if (!ownedByUs(stat)) throw new UserError(`${path} belongs to another user (uid ${stat.uid}); regauth will not write secrets into it: remove it or use a HOME of the job's own`);
    if ((stat.mode & 0o777) !== 0o700) fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a secret-holding file 0600 from its first byte. A file already there is replaced only
 * when it is a regular file of ours; a link, a directory or someone else's file is refused.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const existing = await fs.lstat(path).catch(() => undefined);
  if (existing) {
    if (!existing.isFile()) throw new UserError(`${path} is ${describeType(existing)}; regauth will not write secrets through it: remove it and run the step again`);
    if (!ownedByUs(existing)) throw new UserError(`${path} belongs to another user (uid ${existing.uid}); regauth will not overwrite it`);
    await fs.unlink(path);
  }
  const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** True when `path` is `base` itself or lies below it (both absolute, compared as written). */
export function isInside(base: string, path: string): boolean {
  if (!isAbsolute(path) || !isAbsolute(base)) return false;
  const rel = relative(normalize(base), normalize(path));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..');
}

export type RemoveOutcome = { removed: true } | { removed: false; why: string };

/**
 * Deletes `file` only if regauth could have made it: below `base`, every directory from `base`
 * down a real directory of ours, and the file itself a regular file of ours (not a link). Its
 * directory goes too once empty, but never `base` or anything above it.
 */
export async function removeOwnedFile(base: string, file: string): Promise<RemoveOutcome> {
  if (typeof file !== 'string' || !isInside(base, file)) return { removed: false, why: `not inside ${base}` };
  const normalized = normalize(file);
  const directories: string[] = [];
  for (let dir = dirname(normalized); dir.length >= normalize(base).length; dir = dirname(dir)) {
    directories.push(dir);
    if (dir === normalize(base) || dir === dirname(dir)) break;
  }
  for (const dir of directories) {
    const stat = await fs.lstat(dir).catch(() => undefined);
    if (!stat) return { removed: false, why: 'already gone' };
    if (!stat.isDirectory()) return { removed: false, why: `${dir} is ${describeType(stat)}` };
    if (!ownedByUs(stat)) return { removed: false, why: `${dir} belongs to another user` };
  }
  const stat = await fs.lstat(normalized).catch(() => undefined);
  if (!stat) return { removed: false, why: 'already gone' };
  if (!stat.isFile()) return { removed: false, why: `it is ${describeType(stat)}` };
  if (!ownedByUs(stat)) return { removed: false, why: 'it belongs to another user' };
  await fs.unlink(normalized);
  const parent = dirname(normalized);
  if (parent !== normalize(base)) await fs.rmdir(parent).catch(() => undefined);
  return { removed: true };
}

/**
 * Replaces `path` whole: a fresh temp file beside it (O_EXCL, no link followed, 0600 until it has
 * its final `mode`), then a rename, which replaces a link at `path` rather than writing through
 * it. Readers see the old file or the new one, never half. The one atomic writer of regauth.
 */
export async function replaceFileAtomically(path: string, text: string, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.regauth-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeFileSync(fd, text);
    if (mode !== 0o600) fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temp, path);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** regauth's own directory for files it writes outside the docker config (exported profiles). */
export function regauthHome(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.HOME ?? homedir(), '.regauth');
}
