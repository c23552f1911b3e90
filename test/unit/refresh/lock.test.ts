import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireGroupLock } from '../../../src/refresh/lock.ts';
import { makeTempDir } from '../../../testbed/tempdir.ts';

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
