import { readFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireGroupLock } from '../../../src/refresh/lock.ts';
import { makeTempDir } from '../../../testbed/tempdir.ts';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';

describe('group lock', () => {
  it('makes a second taker wait for the first, takes over a dead owner\'s lock, and gives up at its deadline', async () => {
    const file = join(makeTempDir('regauth-lock-').path, 'locks', 'g.lock');
    let clock = 0;
    const deps = { now: () => clock, sleep: async (ms: number) => void (clock += ms), isAlive: () => true };
    const release = await acquireGroupLock(file, 10_000, 1000, deps);
    expect(release).toBeDefined();
    expect(await acquireGroupLock(file, 10_000, 1000, deps)).toBeUndefined();
    expect(clock).toBeGreaterThanOrEqual(1000);
    const takeover = await acquireGroupLock(file, 10_000, clock + 1000, { ...deps, isAlive: () => false });
    expect(takeover).toBeDefined();
    expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+\\n$`));
    await takeover?.();
  });
});

const dir = () => mkdtempSync(join(tmpdir(), 'regauth-lockfile-'));
/** A pid that no longer exists: a child that has already exited. */
const deadPid = (): number => Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));

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
