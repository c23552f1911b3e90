import { dirname } from 'node:path';
import { breakStaleLock, createLockFile, isProcessAlive, lockState, releaseLockFile } from '../core/lock-file.ts';
import { ensurePrivateDir } from './files.ts';

/**
 * One refresh per group at a time, whatever number of docker pulls ask at once. The lock file
 * holds `<pid> <deadline ms>`; a lock whose owner died (a killed refresh) or whose deadline passed
 * is broken under the shared takeover guard (src/core/lock-file.ts), so a lock can delay a
 * refresh but never block it for good, and two waiters never both take it.
 */
export interface GroupLockDeps {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  isAlive: (pid: number) => boolean;
}

export const realGroupLockDeps: GroupLockDeps = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  isAlive: isProcessAlive,
};

const POLL_MS = 20;

/** Stale by the one rule (src/core/lock-file.ts); anything at the path that is no lock file (a link, a FIFO) is removed, never read. */
async function isStale(path: string, deps: GroupLockDeps): Promise<boolean> {
  const found = await lockState(path, deps.now(), deps.isAlive);
  return found.state === 'stale' || found.state === 'foreign';
}

/** Acquires the lock, waiting at most until `waitUntilMs`; returns a release function, or undefined when the wait ran out. */
export async function acquireGroupLock(file: string, holdMs: number, waitUntilMs: number, deps: GroupLockDeps = realGroupLockDeps): Promise<(() => Promise<void>) | undefined> {
  await ensurePrivateDir(dirname(file));
  for (;;) {
    const mine = `${process.pid} ${deps.now() + holdMs}\n`;
    if (await createLockFile(file, mine)) return () => releaseLockFile(file, mine);
    if (await isStale(file, deps)) {
      if (await breakStaleLock(file, (path) => isStale(path, deps))) continue;
    }
    if (deps.now() >= waitUntilMs) return undefined;
    await deps.sleep(POLL_MS);
  }
}
