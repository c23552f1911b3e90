/**
 * Retry planning shared by every command. Pure apart from the injected sleep and random.
 * Backoff: capped exponential with full jitter; a server-stated wait (Retry-After) is honoured,
 * within the cap.
 */
export type Verdict =
  | { kind: 'transient'; reason: string; retryAfterMs?: number }
  | { kind: 'permanent'; reason: string };

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest server-stated wait (Retry-After) honoured; longer ones are cut to this. */
  maxServerWaitMs: number;
}

export interface RetryDeps {
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const realRetryDeps: RetryDeps = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** Delay before attempt `attempt + 1`, where `attempt` (1-based) just failed. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number, retryAfterMs?: number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.round(exponential / 2 + (random() * exponential) / 2);
  if (retryAfterMs === undefined) return jittered;
  return Math.min(Math.max(retryAfterMs, jittered), policy.maxServerWaitMs);
}

/** Parses an HTTP Retry-After value (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export class RetriesExhausted extends Error {
  constructor(
    readonly last: unknown,
    readonly verdict: Verdict,
    readonly attempts: number,
  ) {
    super(verdict.reason);
    this.name = 'RetriesExhausted';
  }
}

/**
 * Runs `operation` until it succeeds, fails permanently, or uses `policy.maxAttempts`.
 * On failure throws RetriesExhausted carrying the last error, its verdict and the count.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  classify: (error: unknown) => Verdict,
  policy: RetryPolicy,
  deps: RetryDeps,
  onRetry?: (attempt: number, verdict: Verdict, delayMs: number) => void,
): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await operation(attempt), attempts: attempt };
    } catch (error) {
      const verdict = classify(error);
      if (verdict.kind === 'permanent' || attempt >= policy.maxAttempts) {
        throw new RetriesExhausted(error, verdict, attempt);
      }
      const delay = backoffDelay(policy, attempt, deps.random, verdict.retryAfterMs);
      onRetry?.(attempt, verdict, delay);
      await deps.sleep(delay);
    }
  }
}
