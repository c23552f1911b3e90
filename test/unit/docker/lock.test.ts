import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, STALE_WITHOUT_PID_MS, withConfigLock, type LockDeps } from '../../../src/docker/lock.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'regauth-lock-'));
const DEAD = 999_999;
const deps = (over: Partial<LockDeps> = {}): LockDeps => ({ sleep: () => new Promise((resolve) => setImmediate(resolve)), isAlive: (pid) => pid !== DEAD, ...over });

describe('withConfigLock', () => {
  it('lets exactly one of eight waiters take over a lock whose owner died, and then serialises all of them', async () => {
    const configDir = dir();
    writeFileSync(join(configDir, LOCK_FILE), String(DEAD));
    let inside = 0;
    let most = 0;
    let ran = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withConfigLock(
          configDir,
          async () => {
            inside += 1;
            most = Math.max(most, inside);
            await new Promise((resolve) => setTimeout(resolve, 2));
            inside -= 1;
            ran += 1;
          },
          deps(),
        ),
      ),
    );
    expect(most).toBe(1);
    expect(ran).toBe(8);
    expect(() => readFileSync(join(configDir, LOCK_FILE))).toThrow();
  });

  it('takes over an empty lock once it is old enough, and waits on a fresh empty one', async () => {
    const old = dir();
    writeFileSync(join(old, LOCK_FILE), '');
    const past = (Date.now() - STALE_WITHOUT_PID_MS - 1000) / 1000;
    utimesSync(join(old, LOCK_FILE), past, past);
    await expect(withConfigLock(old, async () => 'ran', deps())).resolves.toBe('ran');

    const fresh = dir();
    writeFileSync(join(fresh, LOCK_FILE), '');
    let clock = Date.now();
    let slept = 0;
    const result = await withConfigLock(fresh, async () => 'ran', deps({ now: () => clock, sleep: async (ms) => void ((slept += ms), (clock += ms)) }));
    expect(result).toBe('ran');
    expect(slept).toBeGreaterThanOrEqual(STALE_WITHOUT_PID_MS);
  });

  it('refuses a named pipe or a link at the lock path at once instead of blocking on it', async () => {
    const fifo = dir();
    execFileSync('mkfifo', [join(fifo, LOCK_FILE)]);
    await expect(withConfigLock(fifo, async () => 'ran', deps())).rejects.toThrow(/\.regauth\.lock is a named pipe, not a lock regauth made/);
    const linked = dir();
    writeFileSync(join(linked, 'target'), String(DEAD));
    symlinkSync(join(linked, 'target'), join(linked, LOCK_FILE));
    await expect(withConfigLock(linked, async () => 'ran', deps())).rejects.toThrow(/is a symbolic link/);
    expect(readFileSync(join(linked, 'target'), 'utf8')).toBe(String(DEAD));
  });

  it('waits for a live owner and gives up after a minute with one line', async () => {
    const configDir = dir();
    writeFileSync(join(configDir, LOCK_FILE), '4242');
    await expect(withConfigLock(configDir, async () => 'ran', deps({ sleep: async () => undefined }))).rejects.toThrow(/pid 4242\) has held .* for over a minute/);
  });
});
