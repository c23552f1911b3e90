import { constants, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir } from './files.ts';

/**
 * One refresh per group at a time, whatever number of docker pulls ask at once. The lock file
 * (O_EXCL) holds `<pid> <deadline ms>`; a lock whose owner died (a killed refresh) or whose
 * deadline passed is taken over, so a lock can delay a refresh but never block it for good.
 */
export interface GroupLockDeps {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  isAlive: (pid: number) => boolean;
}

export const realGroupLockDeps: GroupLockDeps = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  isAlive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};

const POLL_MS = 20;

/** Acquires the lock, waiting at most until `waitUntilMs`; returns a release function, or undefined when the wait ran out. */
export async function acquireGroupLock(file: string, holdMs: number, waitUntilMs: number, deps: GroupLockDeps = realGroupLockDeps): Promise<(() => Promise<void>) | undefined> {
  await ensurePrivateDir(dirname(file));
  for (;;) {
    try {
      const handle = await fs.open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
      await handle.writeFile(`${process.pid} ${deps.now() + holdMs}\n`);
      await handle.close();
      return async () => {
        await fs.rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const text = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
    const [pid, deadline] = text.split(' ').map(Number);
    // An empty lock is one being written this instant, unless it has stayed empty for a second.
    const emptyAndOld = text === '' && deps.now() - ((await fs.stat(file).catch(() => undefined))?.mtimeMs ?? 0) > 1000;
    const stale = text === '' ? emptyAndOld : !Number.isInteger(pid) || (pid ?? 0) <= 0 || !deps.isAlive(pid ?? 0) || deps.now() > (deadline ?? 0);
    if (stale) {
      // Only the stale holder's lock is removed: a fresh lock taken meanwhile stays.
      const again = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
      if (again === text) await fs.rm(file, { force: true });
      continue;
    }
    if (deps.now() >= waitUntilMs) return undefined;
    await deps.sleep(POLL_MS);
  }
}
