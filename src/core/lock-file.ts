import { constants, promises as fs } from 'node:fs';
import { readRegularFile } from './private-files.ts';

/**
 * regauth's one lock (node has no flock): an O_EXCL file holding `<pid>` or `<pid> <deadline ms>`,
 * with one rule for when it is stale, used for docker's config directory and for each refresh
 * group alike. Breaking
 * a stale lock is the hard part: two waiters that both judged the same lock stale must not both
 * delete "the" lock, or the second deletes the first one's fresh lock and both run. So a lock is
 * broken only while holding a second O_EXCL file (the takeover guard), after judging it stale
 * again under that guard.
 */

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
  let handle;
  try {
    handle = await fs.open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

/** Deletes `path` if it still holds `content` (never someone else's lock). */
export async function releaseLockFile(path: string, content: string): Promise<void> {
  const read = await readRegularFile(path);
  if (read.kind === 'text' && read.text === content) await fs.unlink(path).catch(() => undefined);
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
/**
 * A lock without a readable pid is stale once this old: its creator writes the pid microseconds
 * after creating it, so an empty one this old comes from a crash or a full disk.
 */
export const STALE_WITHOUT_PID_MS = 5_000;

export type LockState = { state: 'gone' } | { state: 'held'; owner: string } | { state: 'stale' } | { state: 'foreign'; what: string };

/**
 * How the lock at `path` looks now: the one staleness rule. Stale when its owner is gone or its
 * deadline passed, or when it has had no pid for STALE_WITHOUT_PID_MS. Anything that is not a
 * regular file (a link, a FIFO) is `foreign`, never read (a FIFO would block).
 */
export async function inspectLock(path: string, deps: LockDeps): Promise<LockState> {
  const read = await readRegularFile(path);
  if (read.kind === 'missing') return { state: 'gone' };
  if (read.kind === 'wrong-type') return { state: 'foreign', what: read.what };
  const now = (deps.now ?? Date.now)();
  let mtimeMs: number;
  if (read.kind === 'unreadable') {
    const stat = await fs.lstat(path).catch(() => undefined);
    if (!stat) return { state: 'gone' };
    mtimeMs = stat.mtimeMs;
  } else {
    const owner = /^\s*(\d{1,10})(?: (\d{1,16}))?\s*$/.exec(read.text);
    const pid = Number(owner?.[1] ?? 0);
    if (owner && pid > 0) {
      const deadline = owner[2] === undefined ? Infinity : Number(owner[2]);
      return deps.isAlive(pid) && now <= deadline ? { state: 'held', owner: String(pid) } : { state: 'stale' };
    }
    mtimeMs = read.stat.mtimeMs;
  }
  return now - mtimeMs >= STALE_WITHOUT_PID_MS ? { state: 'stale' } : { state: 'held', owner: 'unknown (no pid yet)' };
}

export interface AcquireOptions {
  /** Written into the lock: the owner's pid, and the deadline after which others may break it. */
  holdMs?: number;
  /** Give up after this much waiting (counted both as time slept and on the clock). */
  maxWaitMs: number;
  /**
   * What to do with a link, FIFO or directory at the lock's path: `refuse` (a directory that is
   * not regauth's own) or `break` (regauth's private directory, where nothing else belongs).
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
 * Takes the lock at `path`, waiting while another live owner holds it: `release` once taken, or
 * `heldBy` when the wait ran out. A stale lock is broken under its takeover guard, so among
 * waiters exactly one takes it over.
 */
export async function acquireLock(path: string, options: AcquireOptions, deps: LockDeps = realLockDeps): Promise<{ release: () => Promise<void> } | { heldBy: string }> {
  const now = deps.now ?? Date.now;
  const giveUpAt = now() + options.maxWaitMs;
  const breakable = (found: LockState): boolean => found.state === 'stale' || (found.state === 'foreign' && options.foreign === 'break');
  for (let slept = 0; ; ) {
    const mine = options.holdMs === undefined ? String(process.pid) : `${process.pid} ${now() + options.holdMs}\n`;
    if (await createLockFile(path, mine)) return { release: () => releaseLockFile(path, mine) };
    const found = await inspectLock(path, deps);
    if (found.state === 'gone') continue;
    if (found.state === 'foreign' && options.foreign === 'refuse') throw new ForeignLockError(path, found.what);
    // Whoever then wins the race to create the lock goes first; the rest wait as usual.
    if (breakable(found) && (await breakStaleLock(path, async (guarded) => breakable(await inspectLock(guarded, deps))))) continue;
    if (slept >= options.maxWaitMs || now() >= giveUpAt) return { heldBy: found.state === 'held' ? found.owner : 'gone' };
    await deps.sleep(LOCK_POLL_MS);
    slept += LOCK_POLL_MS;
  }
}
