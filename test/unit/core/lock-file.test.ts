import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { breakStaleLock, createLockFile, isProcessAlive, releaseLockFile } from '../../../src/core/lock-file.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'regauth-lockfile-'));
/** A pid that no longer exists: a child that has already exited. */
const deadPid = (): number => Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));

describe('the shared lock file', () => {
  it('creates exclusively and releases only its own content', async () => {
    const lock = join(dir(), 'x.lock');
    expect(await createLockFile(lock, 'mine')).toBe(true);
    expect(await createLockFile(lock, 'theirs')).toBe(false);
    await releaseLockFile(lock, 'not mine');
    expect(readFileSync(lock, 'utf8')).toBe('mine');
    await releaseLockFile(lock, 'mine');
    expect(existsSync(lock)).toBe(false);
  });

  it('lets exactly one of many waiters break the same stale lock', async () => {
    const lock = join(dir(), 'x.lock');
    writeFileSync(lock, String(deadPid()));
    const stale = async (path: string) => existsSync(path) && !isProcessAlive(Number(readFileSync(path, 'utf8')));
    const wins = await Promise.all(Array.from({ length: 8 }, () => breakStaleLock(lock, stale)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(existsSync(`${lock}.takeover`)).toBe(false);
  });

  it('removes a guard left by a killed waiter, so the next waiter can break the lock', async () => {
    const lock = join(dir(), 'x.lock');
    writeFileSync(lock, String(deadPid()));
    writeFileSync(`${lock}.takeover`, String(deadPid()));
    const stale = async (path: string) => existsSync(path) && !isProcessAlive(Number(readFileSync(path, 'utf8')));
    expect(await breakStaleLock(lock, stale)).toBe(false);
    expect(await breakStaleLock(lock, stale)).toBe(true);
  });
});
