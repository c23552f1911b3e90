import { breakStaleLock, createLockFile, isProcessAlive, releaseLockFile } from '../core/lock-file.ts';
import { readRegularFile } from '../core/private-files.ts';

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
/** An empty lock is one being written this instant, unless it has stayed empty this long. */
const EMPTY_STALE_MS = 1000;

/** Stale: its owner is gone, its deadline passed, or it is not a lock file of ours at all (a link, a FIFO: removed, never read). */
async function isStale(path: string, deps: GroupLockDeps): Promise<boolean> {
  const read = await readRegularFile(path);
  if (read.kind === 'missing') return false;
  if (read.kind !== 'text') return true;
  const text = read.text.trim();
  if (text === '') return deps.now() - read.stat.mtimeMs > EMPTY_STALE_MS;
  const [pid, deadline] = text.split(' ').map(Number);
  return !Number.isInteger(pid) || (pid ?? 0) <= 0 || !deps.isAlive(pid ?? 0) || deps.now() > (deadline ?? 0);
}

/** The longest a refresh holds its group's lock (its whole deadline); logout waits this long at most. */
export const LONGEST_HOLD_MS = 30_000;

/**
 * Acquires the lock, waiting at most until `waitUntilMs`; returns a release function, or undefined
 * when the wait ran out. The locks directory is the login's: it is never created here (a refresh
 * after logout must not bring the helper's directory back), so its absence throws ENOENT.
 */
export async function acquireGroupLock(file: string, holdMs: number, waitUntilMs: number, deps: GroupLockDeps = realGroupLockDeps): Promise<(() => Promise<void>) | undefined> {
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
