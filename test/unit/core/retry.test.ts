import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, RetriesExhausted, withRetry, type Verdict } from '../../../src/core/retry.ts';

const policy = { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 8000, maxServerWaitMs: 30_000 };

describe('retry planning', () => {
  it('doubles the delay per attempt with jitter, and caps it', () => {
    expect(backoffDelay(policy, 1, () => 0)).toBe(500);
    expect(backoffDelay(policy, 1, () => 1)).toBe(1000);
    expect(backoffDelay(policy, 3, () => 1)).toBe(4000);
    expect(backoffDelay(policy, 10, () => 1)).toBe(8000);
  });

  it('waits at least what the server asked, up to its own cap', () => {
    expect(backoffDelay(policy, 1, () => 0, 7000)).toBe(7000);
    expect(backoffDelay(policy, 1, () => 0, 600_000)).toBe(30_000);
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it('retries transient failures and stops at the first success', async () => {
    const slept: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('reset');
        return 'ok';
      },
      (): Verdict => ({ kind: 'transient', reason: 'reset' }),
      policy,
      { sleep: async (ms) => void slept.push(ms), random: () => 1 },
    );
    expect(result).toEqual({ value: 'ok', attempts: 3 });
    expect(slept).toEqual([1000, 2000]);
  });

  it('makes exactly one attempt for a permanent failure', async () => {
    let calls = 0;
    const attempt = withRetry(
      async () => {
        calls += 1;
        throw new Error('AccessDenied');
      },
      (): Verdict => ({ kind: 'permanent', reason: 'denied' }),
      policy,
      { sleep: async () => undefined, random: () => 0 },
    );
    await expect(attempt).rejects.toBeInstanceOf(RetriesExhausted);
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts and reports the count', async () => {
    const attempt = withRetry(
      async () => {
        throw new Error('503');
      },
      (): Verdict => ({ kind: 'transient', reason: '503' }),
      policy,
      { sleep: async () => undefined, random: () => 0 },
    );
    await expect(attempt).rejects.toMatchObject({ attempts: 4, verdict: { kind: 'transient' } });
  });
});
