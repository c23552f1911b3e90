import { acquireLock, realLockDeps, type LockDeps } from '../core/lock-file.ts';

/**
 * One refresh per group at a time, whatever number of docker pulls ask at once: regauth's one
 * lock (src/core/lock-file.ts) in the helper's private directory. It holds `<pid> <deadline ms>`,
 * so a lock can delay a refresh but never block it for good; anything else at its path (a link,
 * a FIFO) is removed unread, since nothing but regauth writes there.
 */
export type GroupLockDeps = LockDeps;
export const realGroupLockDeps: GroupLockDeps = realLockDeps;

/** The longest a refresh holds its group's lock (its whole deadline); logout waits this long at most. */
export const LONGEST_HOLD_MS = 30_000;

/**
 * Acquires the lock, waiting at most until `waitUntilMs`; returns a release function, or undefined
 * when the wait ran out. The locks directory is the login's: it is never created here (a refresh
 * after logout must not bring the helper's directory back), so its absence throws ENOENT.
 */
export async function acquireGroupLock(file: string, holdMs: number, waitUntilMs: number, deps: GroupLockDeps = realGroupLockDeps): Promise<(() => Promise<void>) | undefined> {
  const taken = await acquireLock(file, { holdMs, maxWaitMs: Math.max(0, waitUntilMs - (deps.now ?? Date.now)()), foreign: 'break' }, deps);
  return 'release' in taken ? taken.release : undefined;
}
