import { describe, expect, it } from 'vitest';
import { inTurn } from '../../../src/pull/turns.ts';

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('inTurn: pulls after an image with a big layer start once its layers are queued', () => {
  it('lets the first go at once and each next one only after the big one before it says queued', async () => {
    const take = inTurn(60_000);
    const started: string[] = [];
    const a = take(true).then((turn) => (started.push('a'), turn));
    const b = take(true).then((turn) => (started.push('b'), turn));
    const c = take(false).then((turn) => (started.push('c'), turn));
    await ticks(3);
    expect(started).toEqual(['a']);
    (await a).queued();
    await ticks(3);
    expect(started).toEqual(['a', 'b']);
    const turnB = await b;
    turnB.queued();
    turnB.queued();
    await c;
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('starts small images together: only a big one makes the next ones wait', async () => {
    const take = inTurn(60_000);
    const started: string[] = [];
    const small = await take(false);
    const big = take(true).then((turn) => (started.push('big'), turn));
    const after = take(false).then((turn) => (started.push('after'), turn));
    await ticks(3);
    // Neither waited for the small one; the one after the big one waits for it.
    expect(started).toEqual(['big']);
    small.queued();
    (await big).queued();
    await after;
    expect(started).toEqual(['big', 'after']);
  });

  it('does not wait past its deadline for a pull that never says queued (an odd docker, a hung manifest)', async () => {
    const take = inTurn(5);
    await take(true);
    const next = await Promise.race([take(false).then(() => 'started'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_000))]);
    expect(next).toBe('started');
  });
});
