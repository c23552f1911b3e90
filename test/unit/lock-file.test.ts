import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { breakStaleLock, createLockFile, inspectLock, isProcessAlive, releaseLockFile, STALE_WITHOUT_PID_MS } from '../../src/core/lock-file.ts';
import { acquireGroupLock } from '../../src/refresh/lock.ts';

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

describe('the one staleness rule (docker config lock and refresh group lock alike)', () => {
  it('judges a lock by its owner, its deadline, and how long it has had no pid', async () => {
    const lock = join(dir(), 'x.lock');
    const at = (clock: number, alive = true) => inspectLock(lock, { now: () => clock, isAlive: () => alive, sleep: async () => undefined });
    writeFileSync(lock, '');
    const written = Date.now();
    expect(await at(written + STALE_WITHOUT_PID_MS - 1000)).toEqual({ state: 'held', owner: 'unknown (no pid yet)' });
    expect(await at(written + STALE_WITHOUT_PID_MS + 1000)).toEqual({ state: 'stale' });
    writeFileSync(lock, '4242');
    expect(await at(written)).toEqual({ state: 'held', owner: '4242' });
    expect(await at(written, false)).toEqual({ state: 'stale' });
    writeFileSync(lock, `4242 ${written + 1000}\n`);
    expect(await at(written)).toEqual({ state: 'held', owner: '4242' });
    expect(await at(written + 1001)).toEqual({ state: 'stale' });
    const fifo = join(dir(), 'fifo.lock');
    execFileSync('mkfifo', [fifo]);
    expect(await inspectLock(fifo, { isAlive: () => true, sleep: async () => undefined })).toEqual({ state: 'foreign', what: 'a named pipe' });
  });
});

describe('the refresh group lock', () => {
  it('takes over a FIFO at its path instead of blocking on it', async () => {
    const lock = join(dir(), 'group.lock');
    execFileSync('mkfifo', [lock]);
    const release = await acquireGroupLock(lock, 10_000, Date.now() + 2000);
    expect(release).toBeDefined();
    await release?.();
    expect(existsSync(lock)).toBe(false);
  });

  it('gives eight concurrent waiters the lock one at a time after its owner died', async () => {
    const lock = join(dir(), 'group.lock');
    writeFileSync(lock, `${deadPid()} ${Date.now() + 60_000}\n`);
    let holders = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const release = await acquireGroupLock(lock, 10_000, Date.now() + 20_000);
        expect(release).toBeDefined();
        most = Math.max(most, ++holders);
        await new Promise((resolve) => setImmediate(resolve));
        holders--;
        await release?.();
      }),
    );
    expect(most).toBe(1);
  });
});
