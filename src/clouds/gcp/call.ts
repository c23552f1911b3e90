import { realRetryDeps, RetriesExhausted, withRetry, type RetryDeps, type RetryPolicy, type Verdict } from '../../core/retry.ts';
import { classifyGoogleResponse, classifyNetworkError, GoogleCallError, toVerdict, type GoogleErrorClass, type GoogleOperation } from './errors.ts';
import { nodePost, type GooglePost, type GoogleHttpRequest } from './http.ts';

/** How Google calls are made and retried; everything has a default, tests inject fakes. */
export interface GoogleCallDeps {
  post?: GooglePost;
  retryDeps?: RetryDeps;
  retryPolicy?: RetryPolicy;
  /** Deadline of each request. */
  timeoutMs?: number;
  onRetry?: (operation: GoogleOperation, attempt: number, verdict: Verdict, delayMs: number) => void;
}

export const DEFAULT_GOOGLE_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8_000, maxServerWaitMs: 30_000 };
export const DEFAULT_GOOGLE_TIMEOUT_MS = 15_000;

/** An answer that is not a success, already classified (and so already redacted). */
class GoogleAnswerError extends Error {
  constructor(readonly classification: GoogleErrorClass) {
    super(classification.message);
  }
}

/**
 * POSTs `request` until Google answers 2xx with a body `parse` accepts, the failure is
 * permanent, or the policy's attempts are used. `secrets` are removed from every message.
 */
export async function callGoogle<T>(
  operation: GoogleOperation,
  request: Omit<GoogleHttpRequest, 'timeoutMs'>,
  parse: (body: unknown) => T | undefined,
  deps: GoogleCallDeps,
  secrets: readonly string[],
): Promise<T> {
  const post = deps.post ?? nodePost;
  const classify = (error: unknown): GoogleErrorClass => (error instanceof GoogleAnswerError ? error.classification : classifyNetworkError(error, secrets));
  try {
    const { value } = await withRetry(
      async () => {
        const response = await post({ ...request, timeoutMs: deps.timeoutMs ?? DEFAULT_GOOGLE_TIMEOUT_MS });
        if (response.status < 200 || response.status > 299) throw new GoogleAnswerError(classifyGoogleResponse(response, secrets));
        let body: unknown;
        try {
          body = JSON.parse(response.body);
        } catch {
          body = undefined;
        }
        const parsed = parse(body);
        if (parsed === undefined) throw new GoogleAnswerError({ kind: 'permanent', code: 'BadResponse', status: response.status, message: 'the answer is not the JSON the API documents' });
        return parsed;
      },
      (error) => toVerdict(classify(error)),
      deps.retryPolicy ?? DEFAULT_GOOGLE_RETRY_POLICY,
      deps.retryDeps ?? realRetryDeps,
      deps.onRetry ? (attempt, verdict, delay) => deps.onRetry?.(operation, attempt, verdict, delay) : undefined,
    );
    return value;
  } catch (error) {
    if (!(error instanceof RetriesExhausted)) throw error;
    throw new GoogleCallError(operation, classify(error.last), error.attempts);
  }
}
