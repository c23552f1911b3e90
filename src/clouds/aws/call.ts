import { realRetryDeps, RetriesExhausted, withRetry, type RetryDeps, type RetryPolicy, type Verdict } from '../../core/retry.ts';
import { remote } from '../../core/output.ts';
import { AwsCallError, classifyAwsError, sanitizeAwsMessage, toVerdict, type AwsOperation } from './errors.ts';

/** How an AWS call is retried; the SDK's own retries are off (maxAttempts 1). */
export interface AwsRetryOptions {
  policy?: RetryPolicy;
  deps?: RetryDeps;
  onRetry?: (attempt: number, verdict: Verdict, delayMs: number) => void;
}

export const DEFAULT_AWS_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8_000, maxServerWaitMs: 30_000 };

/** Runs `send` with regauth's retry policy; a final failure becomes an AwsCallError. */
export async function callAws<T>(operation: AwsOperation, send: () => Promise<T>, retry: AwsRetryOptions = {}, secrets: readonly string[] = []): Promise<T> {
  try {
    const { value } = await withRetry(
      () => send(),
      (error) => toVerdict(classifyAwsError(error)),
      retry.policy ?? DEFAULT_AWS_RETRY_POLICY,
      retry.deps ?? realRetryDeps,
      retry.onRetry,
    );
    return value;
  } catch (error) {
    if (!(error instanceof RetriesExhausted)) throw error;
    const c = classifyAwsError(error.last);
    const message = c.message === '' ? '' : remote(sanitizeAwsMessage(c.message, secrets));
    throw new AwsCallError(operation, { ...c, message }, error.attempts);
  }
}
