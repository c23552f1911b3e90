import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../core/errors.ts';
import { breakStaleLock, createLockFile, isProcessAlive, lockState, releaseLockFile, type LockState } from '../core/lock-file.ts';
export { STALE_WITHOUT_PID_MS } from '../core/lock-file.ts';

/**
 * The lock that serialises regauth's read-modify-write of config.json and its state file: a file
 * created with O_EXCL holding the owner's pid, broken only under the takeover guard of
 * src/core/lock-file.ts. A fresh lock never looks stale, because its owner is alive.
 */
export interface LockDeps {
  sleep: (ms: number) => Promise<void>;
  isAlive: (pid: number) => boolean;
  /** Wall clock in ms, compared with file mtimes; Date.now when absent. */
  now?: () => number;
}

export const realLockDeps: LockDeps = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  isAlive: isProcessAlive,
  now: () => Date.now(),
};

export const LOCK_FILE = '.regauth.lock';
const LOCK_POLL_MS = 25;
const LOCK_MAX_WAIT_MS = 60_000; // a login that holds the lock longer has hung
/** How the lock file looks now, by the one rule; a link or a FIFO there is refused, never waited on. */
async function inspect(path: string, deps: LockDeps): Promise<Exclude<LockState, { state: 'foreign' }>> {
  const found = await lockState(path, (deps.now ?? Date.now)(), deps.isAlive);
  if (found.state === 'foreign') {
    throw new UserError(`${path} is ${found.what}, not a lock regauth made: remove it (nothing else uses that name) or set DOCKER_CONFIG to a directory of the job's own`);
  }
  return found;
}

/**
 * Runs `work` holding the lock on the config directory. A lock whose owner is gone, or that has
 * no readable pid and is old enough, is taken over; anything at the lock's path that is not a
 * regular file (a link, a FIFO) is refused at once rather than read (a FIFO would block).
 */
export async function withConfigLock<T>(dir: string, work: () => Promise<T>, deps: LockDeps = realLockDeps): Promise<T> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, LOCK_FILE);
  for (let waited = 0; ; ) {
    if (await createLockFile(lock, String(process.pid))) break;
    const found = await inspect(lock, deps);
    if (found.state === 'gone') continue;
    // Whoever then wins the race to create the lock goes first; the rest wait as usual.
    if (found.state === 'stale' && (await breakStaleLock(lock, async (path) => (await inspect(path, deps)).state === 'stale'))) continue;
    if (waited >= LOCK_MAX_WAIT_MS) {
      throw new UserError(`another process (pid ${found.state === 'held' ? found.owner : 'gone'}) has held ${lock} for over a minute: if nothing else is logging in, delete that file`);
    }
    await deps.sleep(LOCK_POLL_MS);
    waited += LOCK_POLL_MS;
  }
  try {
    return await work();
  } finally {
    await releaseLockFile(lock, String(process.pid));
  }
}
