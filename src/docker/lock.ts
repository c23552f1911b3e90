import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../core/errors.ts';
import { acquireLock, ForeignLockError, realLockDeps, type LockDeps } from '../core/lock-file.ts';
export { realLockDeps, STALE_WITHOUT_PID_MS, type LockDeps } from '../core/lock-file.ts';

/**
 * The lock that serialises regauth's read-modify-write of config.json: regauth's one lock
 * (src/core/lock-file.ts: one staleness rule, one wait loop) in docker's config directory. That
 * directory is the user's, so anything at the lock's path that regauth did not make (a link, a
 * FIFO) is refused at once, never read or removed.
 */
export const LOCK_FILE = '.regauth.lock';
const LOCK_MAX_WAIT_MS = 60_000; // a login that holds the lock longer has hung

/** Runs `work` holding the lock on the config directory. */
export async function withConfigLock<T>(dir: string, work: () => Promise<T>, deps: LockDeps = realLockDeps): Promise<T> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, LOCK_FILE);
  let taken;
  try {
    taken = await acquireLock(lock, { maxWaitMs: LOCK_MAX_WAIT_MS, foreign: 'refuse' }, deps);
  } catch (error) {
    if (error instanceof ForeignLockError) throw new UserError(`${error.message}: remove it (nothing else uses that name) or set DOCKER_CONFIG to a directory of the job's own`);
    throw error;
  }
  if ('heldBy' in taken) throw new UserError(`another process (pid ${taken.heldBy}) has held ${lock} for over a minute: if nothing else is logging in, delete that file`);
  try {
    return await work();
  } finally {
    await taken.release();
  }
}
