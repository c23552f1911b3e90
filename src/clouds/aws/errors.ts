import { UserError } from '../../core/errors.ts';
import { remote, unmarked } from '../../core/output.ts';
import { parseRetryAfter, type Verdict } from '../../core/retry.ts';

/**
 * Pure classification of what an AWS call threw: retry it, get a new web identity token
 * and retry once ('reauth'), or stop.
 */
export type AwsErrorKind = 'transient' | 'reauth' | 'permanent';

export interface AwsErrorClass {
  kind: AwsErrorKind;
  /** AWS error code (Throttling, AccessDenied…) or network code (ECONNRESET…). */
  code: string;
  status?: number;
  /** AWS's message, single line, tokens removed, marked as remote text (the Reporter quotes and cuts it). */
  message: string;
  retryAfterMs?: number;
}

const TRANSIENT_CODES = new Set([
  'IDPCommunicationError',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'ServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'SlowDown',
]);
const REAUTH_CODES = new Set(['InvalidIdentityToken', 'ExpiredTokenException', 'ExpiredToken']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED', 'ESOCKETTIMEDOUT']);
const NETWORK_MESSAGES = /socket hang up|network socket disconnected|read ECONNRESET|timed out|timeout/i;

/** The SDK names some modelled STS errors differently from their wire codes. */
const SDK_NAMES: Readonly<Record<string, string>> = {
  InvalidIdentityTokenException: 'InvalidIdentityToken',
  IDPCommunicationErrorException: 'IDPCommunicationError',
  IDPRejectedClaimException: 'IDPRejectedClaim',
  MalformedPolicyDocumentException: 'MalformedPolicyDocument',
  PackedPolicyTooLargeException: 'PackedPolicyTooLarge',
};

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { statusCode?: unknown; headers?: Record<string, unknown> };
}

/**
 * Removes the given secrets and anything shaped like a JWT (an OIDC token echoed back) and folds
 * the message to one line. Never shortens it: a cut before redaction could leave part of a
 * secret that no longer matches; the Reporter cuts remote text after redacting it.
 */
export function sanitizeAwsMessage(message: string, secrets: readonly string[] = []): string {
  let out = unmarked(message);
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  out = out.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '<token>');
  return out.replace(/\s+/g, ' ').trim();
}

export function classifyAwsError(error: unknown, now: number = Date.now()): AwsErrorClass {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ErrorLike;
  const rawMessage = typeof e.message === 'string' ? e.message : '';
  const message = rawMessage === '' ? '' : remote(sanitizeAwsMessage(rawMessage));
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : typeof e.$response?.statusCode === 'number' ? e.$response.statusCode : undefined;
  const networkCode = typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code) ? e.code : undefined;
  const sdkName = typeof e.name === 'string' && e.name !== 'Error' ? (SDK_NAMES[e.name] ?? e.name) : undefined;
  const name = typeof e.Code === 'string' ? e.Code : sdkName;
  const code = networkCode ?? name ?? (NETWORK_MESSAGES.test(rawMessage) ? 'NetworkError' : 'UnknownError');
  const base = { code, message, ...(status !== undefined ? { status } : {}) };

  if (REAUTH_CODES.has(code)) return { kind: 'reauth', ...base };
  const retryAfter = e.$response?.headers?.['retry-after'];
  const retryAfterMs = parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : undefined, now);
  const transient = { kind: 'transient' as const, ...base, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  if (/^Throttl/.test(code) || TRANSIENT_CODES.has(code)) return transient;
  if (networkCode !== undefined) return NETWORK_CODES.has(networkCode) ? transient : { kind: 'permanent', ...base };
  if (status !== undefined && (status >= 500 || status === 429)) return transient;
  if (status === undefined && NETWORK_MESSAGES.test(rawMessage)) return transient;
  return { kind: 'permanent', ...base };
}

/** The retry helper knows only transient and permanent; reauth stops the loop so the caller can act. */
export function toVerdict(c: AwsErrorClass): Verdict {
  const reason = `${c.code}${c.message ? `: ${c.message}` : ''}`;
  if (c.kind === 'transient') return { kind: 'transient', reason, ...(c.retryAfterMs !== undefined ? { retryAfterMs: c.retryAfterMs } : {}) };
  return { kind: 'permanent', reason };
}

export type AwsOperation = 'sts:AssumeRoleWithWebIdentity' | 'ecr:GetAuthorizationToken' | 'ecr-public:GetAuthorizationToken';

const ADVICE: Record<string, string> = {
  'sts:AccessDenied': "the role's trust policy does not accept this token: its principal must be the OIDC provider of the token's issuer and its aud/sub conditions must match the token's claims",
  'sts:InvalidIdentityToken': "STS rejected the OIDC token: the role's account needs an IAM OIDC provider for the token's issuer whose audiences (client ids) include the token's aud",
  'sts:ExpiredTokenException': 'the OIDC token has expired (CircleCI tokens live 1 h from job start): log in earlier in the job, or set audience so regauth mints a fresh token',
  'sts:IDPRejectedClaim': "the identity provider rejected one of the token's claims: check the token's claims against the role's trust policy",
  'sts:IDPCommunicationError': "STS could not reach the token issuer's keys: retry the job; if it persists, check the OIDC provider's URL",
  'sts:ValidationError': 'STS refused the request parameters: check role_arn, role_session_name and session_duration (it must not exceed the role\'s maximum session duration)',
  'sts:RegionDisabledException': 'STS is not activated in this region for the account: activate it in IAM account settings or use another region',
  'sts:MalformedPolicyDocument': 'the session policy is malformed',
  'ecr:AccessDeniedException': 'these credentials may not get an ECR token for that registry: allow ecr:GetAuthorizationToken on * and check account_ids',
  'ecr-public:AccessDeniedException': 'these credentials may not get an ECR Public token: allow ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken',
  InvalidSignatureException: 'the secret access key does not match the access key id (or the request was altered): check the secret access key',
  UnrecognizedClientException: 'AWS does not recognise the access key id or session token: check that the keys are active and belong to this partition',
  ExpiredTokenException: 'the AWS credentials have expired: run the login again',
  ExpiredToken: 'the AWS credentials have expired: run the login again',
  InvalidClientTokenId: 'AWS does not recognise the access key id: check that the key is active',
  InvalidParameterException: 'ECR refused a parameter: check account_ids (12-digit account ids)',
};

/**
 * One line: what failed, why, what to do. Never contains a token: the AWS message is
 * already sanitised by classifyAwsError.
 */
export function describeAwsFailure(operation: AwsOperation, c: AwsErrorClass, attempts: number, endpointHint?: string): string {
  const service = operation.split(':')[0] ?? '';
  let advice = ADVICE[`${service}:${c.code}`] ?? ADVICE[c.code];
  if (advice === undefined) {
    if (c.kind === 'transient' && /^E[A-Z_]+$|NetworkError/.test(c.code)) {
      advice = `the connection to AWS failed${endpointHint ? ` (${endpointHint})` : ''}: check the network, HTTPS_PROXY/NO_PROXY and any AWS_ENDPOINT_URL setting, then rerun`;
    } else if (c.kind === 'transient') advice = 'AWS is throttling or unavailable: rerun the job in a few minutes';
    else if (/^E[A-Z_]+$/.test(c.code)) advice = `could not connect to AWS${endpointHint ? ` (${endpointHint})` : ''}: check the region, AWS_ENDPOINT_URL settings and HTTPS_PROXY/NO_PROXY`;
    else advice = 'see the AWS documentation for this error code';
  }
  return `${awsFailureWhat(operation, c, attempts)}; ${advice}`;
}

/** What failed and AWS's own words, without advice: `sts:AssumeRoleWithWebIdentity failed: AccessDenied (HTTP 403): "…"`. */
export function awsFailureWhat(operation: AwsOperation, c: AwsErrorClass, attempts: number): string {
  const why = `${c.code}${c.status !== undefined ? ` (HTTP ${c.status})` : ''}${c.message ? `: ${c.message}` : ''}`;
  return `${operation} failed${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${why}`;
}

/** An AWS call that failed for good; `message` is the one actionable line. */
export class AwsCallError extends UserError {
  constructor(
    readonly operation: AwsOperation,
    readonly classification: AwsErrorClass,
    readonly attempts: number,
    endpointHint?: string,
  ) {
    super(describeAwsFailure(operation, classification, attempts, endpointHint));
    this.name = 'AwsCallError';
  }

  get code(): string {
    return this.classification.code;
  }

  get kind(): AwsErrorKind {
    return this.classification.kind;
  }
}
