import { randomBytes } from 'node:crypto';
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload } from 'jose';
import { compileCondition, compileValue } from './cel.ts';

/** Google's checks, pure apart from the clock and the token table: STS token exchange and generateAccessToken. */

export interface ProviderConfig {
  projectNumber: string;
  pool: string;
  provider: string;
  /** The OIDC issuer URI the provider trusts. */
  issuerUri: string;
  jwks: JSONWebKeySet;
  /** Empty: Google's default, the provider's own https://iam.googleapis.com/… URL. */
  allowedAudiences: readonly string[];
  /** google.subject and attribute.* → CEL value expression. */
  attributeMapping: Readonly<Record<string, string>>;
  attributeCondition?: string | undefined;
  disabled?: boolean;
}

export interface ServiceAccountConfig {
  /** Members holding roles/iam.workloadIdentityUser on it: principal://…/subject/S, principalSet://…/attribute.NAME/VALUE or principalSet://…/*. */
  workloadIdentityUsers: readonly string[];
  /** constraints/iam.allowServiceAccountCredentialLifetimeExtension covers this account. */
  allowLifetimeExtension?: boolean;
}

export interface IssuedToken {
  kind: 'federated' | 'impersonated';
  expiresAt: number;
  /** federated: principal://…/subject/<google.subject>; impersonated: serviceAccount:<email>. */
  principal: string;
  /** IAM members this token acts as (for bindings). */
  members: readonly string[];
  serviceAccount?: string;
}

export class GoogleFault extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly code: string,
  ) {
    super(code);
  }
}

export const oauthError = (error: string, description: string, status = 400): GoogleFault => new GoogleFault(status, { error, error_description: description }, error);
const RPC_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };
export const rpcError = (status: number, message: string, rpcStatus = RPC_STATUS[status] ?? 'UNKNOWN', details?: unknown[]): GoogleFault =>
  new GoogleFault(status, { error: { code: status, message, status: rpcStatus, ...(details ? { details } : {}) } }, rpcStatus);

export const SUBJECT_LIMIT = 127;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SUBJECT_TYPES = new Set(['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']);
const AUDIENCE = /^\/\/iam\.googleapis\.com\/projects\/(\d+)\/locations\/global\/workloadIdentityPools\/([a-z0-9-]{4,32})\/providers\/([a-z0-9-]{4,32})$/;

export function poolName(p: Pick<ProviderConfig, 'projectNumber' | 'pool'>): string {
  return `projects/${p.projectNumber}/locations/global/workloadIdentityPools/${p.pool}`;
}

export function providerResource(p: Pick<ProviderConfig, 'projectNumber' | 'pool' | 'provider'>): string {
  return `${poolName(p)}/providers/${p.provider}`;
}

export interface GoogleState {
  now: () => number;
  providers: ProviderConfig[];
  serviceAccounts: Map<string, ServiceAccountConfig>;
  tokens: Map<string, IssuedToken>;
  /** Seconds a federated token lives (Google: 3600). */
  federatedLifetimeSeconds: number;
  /** When set, impersonated tokens live this long whatever the request asked (tests of expiry). */
  accessLifetimeOverrideSeconds?: number;
}

/** Reads STS's parameters from a form or JSON body; Google takes camelCase and snake_case alike. */
export function readExchangeParams(contentType: string, body: string): Record<string, string> {
  let raw: Record<string, unknown>;
  if (contentType.includes('application/json')) {
    try {
      raw = JSON.parse(body) as Record<string, unknown>;
    } catch {
      throw oauthError('invalid_request', 'Invalid JSON payload received.');
    }
  } else raw = Object.fromEntries(new URLSearchParams(body));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) if (typeof value === 'string') out[key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] = value;
  return out;
}

export interface ExchangeOutcome {
  body: { access_token: string; issued_token_type: string; token_type: string; expires_in: number };
  sub: string;
  principal: string;
}

export async function exchangeToken(state: GoogleState, params: Record<string, string>): Promise<ExchangeOutcome> {
  if (params.grantType !== TOKEN_EXCHANGE) throw oauthError('unsupported_grant_type', `Unsupported grant type: ${params.grantType ?? '(none)'}`);
  if (params.requestedTokenType !== ACCESS_TOKEN_TYPE) throw oauthError('invalid_request', 'Invalid value for "requested_token_type".');
  if (!SUBJECT_TYPES.has(params.subjectTokenType ?? '')) throw oauthError('invalid_request', 'Invalid value for "subject_token_type".');
  if (!params.subjectToken) throw oauthError('invalid_request', 'Missing required parameter: "subject_token".');
  const audience = AUDIENCE.exec(params.audience ?? '');
  const provider = audience ? state.providers.find((p) => p.projectNumber === audience[1] && p.pool === audience[2] && p.provider === audience[3]) : undefined;
  if (!provider || provider.disabled) {
    throw oauthError('invalid_target', 'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.');
  }
  let claims: JWTPayload;
  try {
    decodeProtectedHeader(params.subjectToken);
    claims = decodeJwt(params.subjectToken);
  } catch {
    throw oauthError('invalid_grant', 'Unable to parse the ID Token.');
  }
  if (claims.iss !== provider.issuerUri) throw oauthError('invalid_grant', `The issuer in ID Token ${String(claims.iss)} does not match the expected ones: ${provider.issuerUri}.`);
  try {
    await compactVerify(params.subjectToken, createLocalJWKSet(provider.jwks), { algorithms: ['RS256'] });
  } catch {
    throw oauthError('invalid_grant', 'Invalid ID Token signature: it does not verify with the keys of the issuer.');
  }
  const nowSeconds = state.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) throw oauthError('invalid_grant', `The ID Token expired at ${typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : '(no exp)'}.`);
  const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud === undefined ? [] : [claims.aud];
  const allowed = provider.allowedAudiences.length > 0 ? provider.allowedAudiences : [`https://iam.googleapis.com/${providerResource(provider)}`];
  if (!audiences.some((aud) => allowed.includes(aud))) throw oauthError('invalid_grant', `The audience in ID Token [${audiences.join(', ')}] does not match the expected audience.`);

  const attributes: Record<string, string> = {};
  for (const [attribute, expression] of Object.entries(provider.attributeMapping)) {
    const value = compileValue(expression)({ assertion: claims });
    if (value !== undefined) attributes[attribute] = value;
  }
  const subject = attributes['google.subject'];
  if (subject === undefined || subject === '') throw oauthError('invalid_request', 'The mapped attribute google.subject must not be empty.');
  if (Buffer.byteLength(subject) > SUBJECT_LIMIT) {
    throw oauthError('invalid_request', `The size of mapped attribute google.subject exceeds the ${SUBJECT_LIMIT} bytes limit. Either modify your attribute mapping or the incoming assertion to produce a mapped attribute that is less than ${SUBJECT_LIMIT} bytes.`);
  }
  if (provider.attributeCondition && !compileCondition(provider.attributeCondition)({ assertion: claims, attributes })) {
    throw oauthError('unauthorized_client', 'The given credential is rejected by the attribute condition.');
  }
  const pool = `iam.googleapis.com/${poolName(provider)}`;
  const principal = `principal://${pool}/subject/${subject}`;
  const members = [principal, `principalSet://${pool}/*`];
  for (const [name, value] of Object.entries(attributes)) if (name.startsWith('attribute.')) members.push(`principalSet://${pool}/${name}/${value}`);
  const token = `ya29.d.${randomBytes(48).toString('base64url')}`;
  state.tokens.set(token, { kind: 'federated', expiresAt: state.now() + state.federatedLifetimeSeconds * 1000, principal, members });
  return { body: { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: state.federatedLifetimeSeconds }, sub: String(claims.sub ?? ''), principal };
}

/** The token behind a `Bearer` header, if this Google issued it and it has not expired. */
export function liveToken(state: GoogleState, authorization: string | undefined): IssuedToken | undefined {
  const match = /^Bearer (\S+)$/i.exec(authorization ?? '');
  const issued = match?.[1] ? state.tokens.get(match[1]) : undefined;
  return issued && issued.expiresAt > state.now() ? issued : undefined;
}

const UNAUTHENTICATED = 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

export function generateAccessToken(state: GoogleState, email: string, authorization: string | undefined, body: string): { accessToken: string; expireTime: string } {
  const caller = liveToken(state, authorization);
  if (!caller) throw rpcError(401, UNAUTHENTICATED);
  const account = state.serviceAccounts.get(email);
  if (!account || !caller.members.some((member) => account.workloadIdentityUsers.includes(member))) {
    throw rpcError(403, "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).", 'PERMISSION_DENIED', [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'IAM_PERMISSION_DENIED', domain: 'iam.googleapis.com', metadata: { permission: 'iam.serviceAccounts.getAccessToken' } },
    ]);
  }
  let request: { scope?: unknown; lifetime?: unknown };
  try {
    request = JSON.parse(body || '{}') as typeof request;
  } catch {
    throw rpcError(400, 'Invalid JSON payload received.');
  }
  if (!Array.isArray(request.scope) || request.scope.length === 0) throw rpcError(400, 'Scope required.');
  const lifetimeText = request.lifetime === undefined ? '3600s' : String(request.lifetime);
  const lifetime = /^(\d+)(?:\.\d+)?s$/.exec(lifetimeText);
  if (!lifetime) throw rpcError(400, `Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), "${lifetimeText}"`);
  const seconds = Number(lifetime[1]);
  if (seconds > 43200 || seconds < 1) throw rpcError(400, 'The lifetime must be between 1 second and 43200 seconds.');
  if (seconds > 3600 && !account.allowLifetimeExtension) {
    throw rpcError(400, 'The requested lifetime exceeds the maximum of 3600 seconds; constraints/iam.allowServiceAccountCredentialLifetimeExtension must list the service account.');
  }
  const lives = state.accessLifetimeOverrideSeconds ?? seconds;
  const expiresAt = state.now() + lives * 1000;
  const token = `ya29.c.${randomBytes(64).toString('base64url')}`;
  state.tokens.set(token, { kind: 'impersonated', expiresAt, principal: `serviceAccount:${email}`, members: [`serviceAccount:${email}`], serviceAccount: email });
  return { accessToken: token, expireTime: new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace('.000Z', 'Z') };
}
