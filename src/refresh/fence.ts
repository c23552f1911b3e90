import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createLockFile } from '../core/lock-file.ts';
import { ownedByUs } from '../core/private-files.ts';
import { layout } from './files.ts';
import { acquireGroupLock, LONGEST_HOLD_MS, realGroupLockDeps, type GroupLockDeps } from './lock.ts';

/**
 * How logout (or a login discarding another job's leftovers) stops refreshes already running
 * before it removes the helper's directory: it puts the fence file there, then takes every group's
 * lock, waiting for a refresh that holds one to end (at most its deadline, after which the lock is
 * stale and broken). A refresh checks the fence after taking its lock and before each write, and
 * writes only into directories that still exist, so once the directory is gone nothing of it
 * comes back and no credential minted meanwhile is left on disk.
 */
export async function isFenced(dir: string): Promise<boolean> {
  return (await fs.lstat(layout(dir).fence).catch(() => undefined)) !== undefined;
}

/** Fences `dir` off and waits for the refreshes holding a lock in it; the caller then removes it. */
export async function fenceOff(dir: string, deps: GroupLockDeps = realGroupLockDeps, waitMs = LONGEST_HOLD_MS + 5_000): Promise<void> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat?.isDirectory() || !ownedByUs(stat)) return;
  try {
    await createLockFile(layout(dir).fence, `${process.pid}\n`);
  } catch {
    // A fence that cannot be written (the directory went meanwhile): the locks below still hold.
  }
  const locks = join(dir, 'locks');
  const names = await fs.readdir(locks).catch(() => [] as string[]);
  const until = (deps.now ?? Date.now)() + waitMs;
  await Promise.all(
    names
      .filter((name) => name.endsWith('.lock'))
      // Taken and kept: the directory, lock included, is removed next.
      .map((name) => acquireGroupLock(join(locks, name), waitMs, until, deps).catch(() => undefined)),
  );
}

/** Removes a fenced-off helper directory whole; retried, as a refresh may be finishing a rename in it. */
export async function removeFenced(dir: string): Promise<boolean> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat?.isDirectory() || !ownedByUs(stat)) return false;
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  return true;
}
