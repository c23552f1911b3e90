import { closeSync, constants, openSync, promises as fs, unlinkSync, writeFileSync } from 'node:fs';
import { readRegularFile } from './private-files.ts';

/**
 * The pieces of an O_EXCL lock file that every regauth lock shares (node has no flock). Breaking
 * a stale lock is the hard part: two waiters that both judged the same lock stale must not both
 * delete "the" lock, or the second deletes the first one's fresh lock and both run. So a lock is
 * broken only while holding a second O_EXCL file (the takeover guard), after judging it stale
 * again under that guard.
 */

/**
 * THE staleness rule of every regauth lock. A lock file holds `<pid>` or `<pid> <deadline ms>`.
 * It is held while its owner lives and its deadline (if any) has not passed. Without a readable
 * pid it is one being written this instant, unless it has stayed so for STALE_WITHOUT_PID_MS
 * (a crash or a full disk between create and write). Not a regular file: `foreign` (each lock
 * decides: refuse it, or remove it without reading).
 */
export const STALE_WITHOUT_PID_MS = 5_000;

export type LockState = { state: 'gone' } | { state: 'held'; owner: string } | { state: 'stale' } | { state: 'foreign'; what: string };

export async function lockState(path: string, now: number, isAlive: (pid: number) => boolean): Promise<LockState> {
  const read = await readRegularFile(path);
  if (read.kind === 'missing') return { state: 'gone' };
  if (read.kind === 'wrong-type') return { state: 'foreign', what: read.what };
  if (read.kind === 'unreadable') {
    const stat = await fs.lstat(path).catch(() => undefined);
    if (!stat) return { state: 'gone' };
    return now - stat.mtimeMs >= STALE_WITHOUT_PID_MS ? { state: 'stale' } : { state: 'held', owner: 'unknown (unreadable lock)' };
  }
  const match = /^\s*(\d{1,10})(?:\s+(\d{1,16}))?\s*$/.exec(read.text);
  if (match?.[1] !== undefined && Number(match[1]) > 0) {
    const pid = Number(match[1]);
    if (!isAlive(pid)) return { state: 'stale' };
    if (match[2] !== undefined && now > Number(match[2])) return { state: 'stale' };
    return { state: 'held', owner: String(pid) };
  }
  return now - read.stat.mtimeMs >= STALE_WITHOUT_PID_MS ? { state: 'stale' } : { state: 'held', owner: 'unknown (no pid yet)' };
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates `path` (O_EXCL, never through a link, 0600) holding `content`; false when something is already there. */
export async function createLockFile(path: string, content: string): Promise<boolean> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeFileSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Deletes `path` if it still holds `content` (never someone else's lock). */
export async function releaseLockFile(path: string, content: string): Promise<void> {
  const read = await readRegularFile(path);
  if (read.kind === 'text' && read.text === content) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

/**
 * Breaks `lock` under its takeover guard when `isStale(lock)` still holds there. `isStale` is
 * asked of the guard too: a waiter killed while holding the guard leaves it behind, and a stale
 * guard is removed so the next waiter can try. False when another waiter holds the guard or the
 * lock came alive.
 */
export async function breakStaleLock(lock: string, isStale: (path: string) => Promise<boolean>): Promise<boolean> {
  const guard = `${lock}.takeover`;
  const mine = `${process.pid}`;
  if (!(await createLockFile(guard, mine))) {
    if (await isStale(guard)) await fs.unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    if (!(await isStale(lock))) return false;
    await fs.unlink(lock).catch(() => undefined);
    return true;
  } finally {
    await releaseLockFile(guard, mine);
  }
}

export interface LockDeps {
  sleep: (ms: number) => Promise<void>;
  isAlive: (pid: number) => boolean;
  /** Wall clock in ms, compared with file mtimes and deadlines; Date.now when absent. */
  now?: () => number;
}

export const realLockDeps: LockDeps = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  isAlive: isProcessAlive,
  now: () => Date.now(),
};

const LOCK_POLL_MS = 20;

export interface AcquireOptions {
  /** Written into the lock after the pid: the deadline after which others may break it. */
  holdMs?: number;
  /** Give up after this much waiting (counted both as time slept and on the clock). */
  maxWaitMs: number;
  /**
   * A link, FIFO or directory at the lock's path: `refuse` (a directory that is not regauth's
   * own, e.g. docker's) or `break` (regauth's private directories, where nothing else belongs).
   */
  foreign: 'refuse' | 'break';
}

export class ForeignLockError extends Error {
  constructor(
    readonly path: string,
    readonly what: string,
  ) {
    super(`${path} is ${what}, not a lock regauth made`);
  }
}

/**
 * The one wait loop of every regauth lock: takes the lock at `path`, waiting while a live owner
 * holds it; `release` once taken, or `heldBy` when the wait ran out. A stale lock (lockState) is
 * broken under its takeover guard, so among waiters exactly one takes it over.
 */
export async function acquireLock(path: string, options: AcquireOptions, deps: LockDeps = realLockDeps): Promise<{ release: () => Promise<void> } | { heldBy: string }> {
  const now = deps.now ?? Date.now;
  const giveUpAt = now() + options.maxWaitMs;
  const inspect = async (file: string): Promise<LockState> => {
    const found = await lockState(file, now(), deps.isAlive);
    if (found.state === 'foreign' && options.foreign === 'refuse') throw new ForeignLockError(file, found.what);
    return found;
  };
  const breakable = (found: LockState): boolean => found.state === 'stale' || found.state === 'foreign';
  for (let slept = 0; ; ) {
    const mine = options.holdMs === undefined ? String(process.pid) : `${process.pid} ${now() + options.holdMs}\n`;
    if (await createLockFile(path, mine)) return { release: () => releaseLockFile(path, mine) };
    const found = await inspect(path);
    if (found.state === 'gone') continue;
    // Whoever then wins the race to create the lock goes first; the rest wait as usual.
    if (breakable(found) && (await breakStaleLock(path, async (file) => breakable(await inspect(file))))) continue;
    if (slept >= options.maxWaitMs || now() >= giveUpAt) return { heldBy: found.state === 'held' ? found.owner : 'gone' };
    await deps.sleep(LOCK_POLL_MS);
    slept += LOCK_POLL_MS;
  }
}

/**
 * Runs `work` holding the O_EXCL lock at `path` (content: this pid), taking over a stale one by
 * the rule above; something at `path` that is no lock file (a link, a FIFO) is removed unread.
 * Gives up after `maxWaitMs` (a holder that long has hung) with an error naming the file.
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>, maxWaitMs = 30_000): Promise<T> {
  const taken = await acquireLock(path, { maxWaitMs, foreign: 'break' });
  if ('heldBy' in taken) throw new Error(`${path} has been held by another process for over ${Math.round(maxWaitMs / 1000)} s: if no regauth step is running, delete it`);
  try {
    return await work();
  } finally {
    await taken.release();
  }
}
