import { callGoogle, type GoogleCallDeps } from './call.ts';

/**
 * The whole Google mint, from a job token to an access token: STS token exchange, then (with a
 * service account) IAM Credentials generateAccessToken. No Reporter and no docker in here: the
 * login command calls it once, a credential helper can call it again whenever it needs a fresh token.
 */
export interface GoogleEndpoints {
  /** Base URL ending in `/` (CLOUDSDK_API_ENDPOINT_OVERRIDES_STS); `v1/token` is appended. */
  sts: string;
  /** Base URL ending in `/` (CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS). */
  iamCredentials: string;
}

export const DEFAULT_GOOGLE_ENDPOINTS: GoogleEndpoints = { sts: 'https://sts.googleapis.com/', iamCredentials: 'https://iamcredentials.googleapis.com/' };

export interface GoogleMintSettings {
  /** `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  workloadIdentityProvider: string;
  /** E-mail of the service account to impersonate; '' uses the federated token itself. */
  serviceAccount: string;
  /** Lifetime asked of generateAccessToken (600–43200); a federated token lives as STS decides. */
  tokenLifetimeSeconds: number;
  endpoints: GoogleEndpoints;
}

export interface GoogleMintDeps extends GoogleCallDeps {
  /** Called with each token the moment it exists, so callers can redact it from all output. */
  onSecret?: (secret: string) => void;
  now?: () => number;
}

export interface GoogleAccessToken {
  accessToken: string;
  expiresAt: Date;
  /** 'impersonated': from generateAccessToken; 'federated': STS's token used directly. */
  kind: 'impersonated' | 'federated';
}

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** The STS audience: `//iam.googleapis.com/` + the provider's resource name. */
export function providerAudience(workloadIdentityProvider: string): string {
  return `//iam.googleapis.com/${workloadIdentityProvider}`;
}

export function stsTokenUrl(endpoints: GoogleEndpoints): string {
  return `${endpoints.sts}v1/token`;
}

/** The e-mail goes in as gcloud writes it (`@` unescaped); inputs allow only [a-z0-9._@-] in it. */
export function generateAccessTokenUrl(endpoints: GoogleEndpoints, serviceAccount: string): string {
  return `${endpoints.iamCredentials}v1/projects/-/serviceAccounts/${encodeURIComponent(serviceAccount).replace('%40', '@')}:generateAccessToken`;
}

export async function mintGoogleAccessToken(settings: GoogleMintSettings, jobToken: string, deps: GoogleMintDeps = {}): Promise<GoogleAccessToken> {
  const now = deps.now ?? Date.now;
  const secrets = [jobToken];
  const federated = await callGoogle(
    'sts.googleapis.com token exchange',
    {
      url: stsTokenUrl(settings.endpoints),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        audience: providerAudience(settings.workloadIdentityProvider),
        grantType: TOKEN_EXCHANGE,
        requestedTokenType: ACCESS_TOKEN_TYPE,
        scope: CLOUD_PLATFORM_SCOPE,
        subjectTokenType: JWT_TOKEN_TYPE,
        subjectToken: jobToken,
      }).toString(),
    },
    (body) => {
      const b = body as { access_token?: unknown; expires_in?: unknown } | undefined;
      return typeof b?.access_token === 'string' && b.access_token.length > 0 ? { token: b.access_token, expiresIn: typeof b.expires_in === 'number' ? b.expires_in : 3600 } : undefined;
    },
    deps,
    secrets,
  );
  deps.onSecret?.(federated.token);
  secrets.push(federated.token);
  if (settings.serviceAccount === '') {
    return { accessToken: federated.token, expiresAt: new Date(now() + federated.expiresIn * 1000), kind: 'federated' };
  }
  const impersonated = await callGoogle(
    'iamcredentials generateAccessToken',
    {
      url: generateAccessTokenUrl(settings.endpoints, settings.serviceAccount),
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${federated.token}` },
      body: JSON.stringify({ scope: [CLOUD_PLATFORM_SCOPE], lifetime: `${settings.tokenLifetimeSeconds}s` }),
    },
    (body) => {
      const b = body as { accessToken?: unknown; expireTime?: unknown } | undefined;
      if (typeof b?.accessToken !== 'string' || b.accessToken.length === 0) return undefined;
      const expires = typeof b.expireTime === 'string' ? Date.parse(b.expireTime) : Number.NaN;
      return { token: b.accessToken, expiresAt: Number.isNaN(expires) ? new Date(now() + settings.tokenLifetimeSeconds * 1000) : new Date(expires) };
    },
    deps,
    secrets,
  );
  deps.onSecret?.(impersonated.token);
  return { accessToken: impersonated.token, expiresAt: impersonated.expiresAt, kind: 'impersonated' };
}
