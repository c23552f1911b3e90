import { UserError } from '../../core/errors.ts';
import { remote } from '../../core/output.ts';
import { parseRetryAfter, type Verdict } from '../../core/retry.ts';
import type { GoogleHttpResponse } from './http.ts';

/** Which Google call failed. */
export type GoogleOperation = 'sts.googleapis.com token exchange' | 'iamcredentials generateAccessToken';

/** Pure classification of a Google answer or a network failure: retry it or stop. */
export interface GoogleErrorClass {
  kind: 'transient' | 'permanent';
  /** OAuth `error` (invalid_grant…), Google RPC `status` (PERMISSION_DENIED…), `HTTP 503`, or a network code (ECONNRESET…). */
  code: string;
  status?: number;
  /** Google's message: secrets and tokens removed first, then one line, then cut. */
  message: string;
  retryAfterMs?: number;
}

const MAX_MESSAGE = 300;
/** OAuth errors that no retry can fix (RFC 6749 §5.2 plus Google's use of them). */
const PERMANENT_OAUTH = new Set(['invalid_grant', 'invalid_target', 'invalid_request', 'unauthorized_client', 'invalid_scope', 'unsupported_grant_type', 'invalid_client', 'access_denied']);
const TRANSIENT_RPC = new Set(['UNAVAILABLE', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED', 'ABORTED']);
const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET']);
const NETWORK_MESSAGES = /socket hang up|network socket disconnected|timed out|timeout/i;

/**
 * Redaction happens on the whole text, before any cut, so a token is never left half-visible:
 * known secrets, then anything shaped like a JWT or a Google access token, then control
 * characters; then one line, then the length cap.
 */
export function sanitizeGoogleMessage(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) if (secret.length >= 4) out = out.split(secret).join('***');
  out = out.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '<token>').replace(/\bya29\.[\w.-]+/g, '<token>');
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  out = out.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE - 3)}...` : out;
}

interface GoogleErrorBody {
  error?: unknown;
  error_description?: unknown;
}

/** A non-2xx answer from STS (OAuth shape) or IAM Credentials (google.rpc shape). */
export function classifyGoogleResponse(response: GoogleHttpResponse, secrets: readonly string[] = [], now: number = Date.now()): GoogleErrorClass {
  let parsed: GoogleErrorBody | undefined;
  try {
    const value: unknown = JSON.parse(response.body);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) parsed = value as GoogleErrorBody;
  } catch {
    parsed = undefined;
  }
  let code = `HTTP ${response.status}`;
  let raw = parsed === undefined ? response.body : '';
  if (typeof parsed?.error === 'string') {
    code = parsed.error;
    raw = typeof parsed.error_description === 'string' ? parsed.error_description : '';
  } else if (parsed?.error !== null && typeof parsed?.error === 'object') {
    const rpc = parsed.error as { status?: unknown; message?: unknown };
    if (typeof rpc.status === 'string' && /^[A-Z_]+$/.test(rpc.status)) code = rpc.status;
    raw = typeof rpc.message === 'string' ? rpc.message : '';
  }
  const message = sanitizeGoogleMessage(raw, secrets);
  const base = { code, status: response.status, message };
  const transient = response.status === 429 || response.status >= 500 || (TRANSIENT_RPC.has(code) && !PERMANENT_OAUTH.has(code));
  if (!transient) return { kind: 'permanent', ...base };
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'], now);
  return { kind: 'transient', ...base, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/** What node threw: resets and deadlines are worth another try, the rest is not. */
export function classifyNetworkError(error: unknown, secrets: readonly string[] = []): GoogleErrorClass {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as { code?: unknown; message?: unknown; name?: unknown; cause?: { code?: unknown } };
  const rawCode = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const text = typeof e.message === 'string' ? e.message : '';
  const code = rawCode ?? (e.name === 'AbortError' || e.name === 'TimeoutError' ? 'ETIMEDOUT' : NETWORK_MESSAGES.test(text) ? 'ECONNRESET' : 'NetworkError');
  const message = sanitizeGoogleMessage(text, secrets);
  return { kind: TRANSIENT_NETWORK.has(code) ? 'transient' : 'permanent', code, message };
}

export function toVerdict(c: GoogleErrorClass): Verdict {
  const reason = describeCause(c);
  return c.kind === 'transient' ? { kind: 'transient', reason, ...(c.retryAfterMs !== undefined ? { retryAfterMs: c.retryAfterMs } : {}) } : { kind: 'permanent', reason };
}

function describeCause(c: GoogleErrorClass): string {
  const status = c.status !== undefined && !c.code.startsWith('HTTP ') ? ` (HTTP ${c.status})` : '';
  // Google's words, quoted and cut by the Reporter after it redacts them.
  return `${c.code}${status}${c.message ? `: ${remote(c.message)}` : ''}`;
}

/** Google says the mapped google.subject is over its 127-byte limit (CircleCI's v2 sub is). */
export function isSubjectTooLong(c: GoogleErrorClass): boolean {
  return c.kind === 'permanent' && /google\.subject/.test(c.message) && /127 bytes/.test(c.message);
}

function advice(operation: GoogleOperation, c: GoogleErrorClass): string {
  if (c.kind === 'transient') {
    return /^E[A-Z_]+$|NetworkError/.test(c.code)
      ? 'the connection to Google failed: check the network, HTTPS_PROXY/NO_PROXY and any CLOUDSDK_API_ENDPOINT_OVERRIDES_* setting, then rerun'
      : 'Google is throttling or unavailable: rerun the job in a few minutes';
  }
  if (operation === 'sts.googleapis.com token exchange') {
    if (c.code === 'invalid_target') return 'the workload identity pool or provider does not exist or is disabled: check workload_identity_provider (the project NUMBER, not its id)';
    if (isSubjectTooLong(c)) return "the provider's google.subject mapping yields more than 127 bytes: map it from a shorter claim (see the line above)";
    return "Google STS rejected the job's OIDC token: compare the token's claims with the provider's settings (see the line above)";
  }
  if (c.code === 'PERMISSION_DENIED') return "the federated principal may not impersonate the service account: grant it roles/iam.workloadIdentityUser on the service account (see the line above)";
  if (c.code === 'UNAUTHENTICATED') return 'IAM Credentials refused the federated token: rerun the step; if it persists, check the provider';
  if (c.code === 'INVALID_ARGUMENT' || c.code === 'FAILED_PRECONDITION') return 'check service_account and token_lifetime (over 3600 needs constraints/iam.allowServiceAccountCredentialLifetimeExtension)';
  if (c.code === 'NOT_FOUND') return 'the service account does not exist: check service_account';
  return 'see the message above';
}

/** What failed and Google's own words, without advice. */
export function googleFailureWhat(operation: GoogleOperation, c: GoogleErrorClass, attempts: number): string {
  return `${operation} failed${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${describeCause(c)}`;
}

/** A Google call that failed for good; `message` is the one actionable line, free of secrets. */
export class GoogleCallError extends UserError {
  constructor(
    readonly operation: GoogleOperation,
    readonly classification: GoogleErrorClass,
    readonly attempts: number,
  ) {
    super(`${googleFailureWhat(operation, classification, attempts)}; ${advice(operation, classification)}`);
    this.name = 'GoogleCallError';
  }

  get code(): string {
    return this.classification.code;
  }

  get kind(): GoogleErrorClass['kind'] {
    return this.classification.kind;
  }
}
