import type { Env } from '../../core/env.ts';
import { UserError } from '../../core/errors.ts';
import type { RetryDeps, RetryPolicy } from '../../core/retry.ts';
import { decodeTokenClaims, type Diagnosis, type TokenClaims } from '../../job-token/index.ts';
import { explained, type Diagnosed, type LoginDeps, type LoginToken, type MintDeps, type MintedGroup, type Provider, type RegistryCredentials, type StoredRecipe } from '../provider.ts';
import { diagnosePermissionDenied, diagnoseTokenExchange, type GoogleTarget } from './diagnose.ts';
import { GoogleCallError, googleFailureWhat, isSubjectTooLong } from './errors.ts';
import { parseGcpOidcInputs, parseGoogleEndpoints, type GcpOidcInputs } from './inputs.ts';
import { mintGoogleAccessToken, type GoogleAccessToken, type GoogleMintSettings } from './mint.ts';
import { checkGcpRecipe, GCP_KIND, gcpRecipe, type GcpRecipe } from './recipe.ts';

/** The user name Artifact Registry and gcr.io take with an OAuth access token. */
export const GOOGLE_REGISTRY_USERNAME = 'oauth2accesstoken';

/** Fewer, shorter retries than at login: docker is waiting, and the whole refresh has a deadline. */
export const REFRESH_GOOGLE_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000, maxServerWaitMs: 4_000 };

/** What the Google mint yields: one access token for every registry, and the job token it was exchanged for. */
export type GoogleMinted = GoogleAccessToken & { jobToken: string };

function target(inputs: GcpOidcInputs): GoogleMintSettings {
  return { workloadIdentityProvider: inputs.provider.name, serviceAccount: inputs.serviceAccount, tokenLifetimeSeconds: inputs.tokenLifetimeSeconds, endpoints: inputs.endpoints };
}

/** The one Google mint: the job token → Google STS → (IAM Credentials generateAccessToken) → an access token. */
async function mint(settings: GoogleMintSettings, jobToken: string, deps: MintDeps): Promise<GoogleMinted> {
  const { reporter } = deps;
  const minted = await mintGoogleAccessToken(settings, jobToken, {
    retryDeps: deps.retry,
    ...(deps.policy ? { retryPolicy: deps.policy } : {}),
    ...(reporter
      ? {
          onSecret: (secret: string) => reporter.redactor.add(secret),
          onRetry: (operation: string, attempt: number, verdict: { reason: string }, delay: number) => reporter.retrying(operation, attempt, verdict.reason, delay),
        }
      : {}),
  });
  return { ...minted, jobToken };
}

/**
 * A login's mint, and the one retry with another token Google allows: a v2 token whose sub maps to
 * a google.subject over 127 bytes is swapped for the job's v1 token (whose sub fits) when there is one.
 */
async function login(inputs: GcpOidcInputs, { first, claims }: LoginToken, { env, reporter, retry }: LoginDeps): Promise<GoogleMinted> {
  const settings = target(inputs);
  const deps: MintDeps = { retry, reporter };
  try {
    return await mint(settings, first.token, deps);
  } catch (error) {
    const v1 = env.CIRCLE_OIDC_TOKEN?.trim();
    if (!(error instanceof GoogleCallError && isSubjectTooLong(error.classification) && first.source !== 'CIRCLE_OIDC_TOKEN' && v1 && v1 !== first.token)) throw explained(error, diagnose(error, claims, inputs), reporter);
    reporter.redactor.add(v1);
    let v1Claims: TokenClaims;
    try {
      v1Claims = decodeTokenClaims(v1);
    } catch {
      throw explained(error, diagnose(error, claims, inputs), reporter);
    }
    reporter.line(`regauth: Google refused ${first.source}: its sub (${Buffer.byteLength(claims.sub ?? '')} bytes) maps to a google.subject over 127 bytes; exchanging CIRCLE_OIDC_TOKEN (sub ${Buffer.byteLength(v1Claims.sub ?? '')} bytes) instead`);
    try {
      return await mint(settings, v1, deps);
    } catch (second) {
      throw explained(second, diagnose(second, v1Claims, inputs), reporter);
    }
  }
}

/** What the provider (or the bindings) must have for a refused exchange or impersonation; undefined for anything else. */
function diagnose(error: unknown, claims: TokenClaims, inputs: GcpOidcInputs): Diagnosed | undefined {
  if (!(error instanceof GoogleCallError) || error.kind === 'transient') return undefined;
  const at: GoogleTarget = { provider: inputs.provider.name, projectNumber: inputs.provider.projectNumber, pool: inputs.provider.pool, serviceAccount: inputs.serviceAccount };
  let diagnosis: Diagnosis;
  if (error.operation === 'sts.googleapis.com token exchange') diagnosis = diagnoseTokenExchange(claims, at, error.code, error.classification.message);
  else if (error.code === 'PERMISSION_DENIED') diagnosis = diagnosePermissionDenied(claims, at);
  else return undefined;
  // The claims next to what must allow them, then one closing line with Google's words once.
  return { lines: diagnosis.lines, error: new UserError(`${googleFailureWhat(error.operation, error.classification, error.attempts)}; likely cause: ${diagnosis.cause}`) };
}

/** One access token logs in to every registry the login names. */
function registries(inputs: GcpOidcInputs, minted: GoogleAccessToken): RegistryCredentials[] {
  return inputs.registries.map((registry) => ({ host: registry.host, username: GOOGLE_REGISTRY_USERNAME, secret: minted.accessToken, expiresAt: minted.expiresAt }));
}

/** The helper's mint: the recipe checked, only the login's endpoints (the asking step's overrides never get a job token). */
async function refresh(stored: StoredRecipe, jobToken: string, deps: { retry: RetryDeps }): Promise<MintedGroup> {
  const recipe = checkGcpRecipe(stored);
  const settings: GoogleMintSettings = {
    workloadIdentityProvider: recipe.provider,
    serviceAccount: recipe.serviceAccount,
    tokenLifetimeSeconds: recipe.tokenLifetimeSeconds,
    endpoints: parseGoogleEndpoints(recipe.settings ?? {}),
  };
  const { accessToken, expiresAt } = await mint(settings, jobToken, { retry: deps.retry, policy: REFRESH_GOOGLE_POLICY });
  return { registries: recipe.hosts.map((host) => ({ host, username: GOOGLE_REGISTRY_USERNAME, secret: accessToken, expiresAt })), secrets: [accessToken] };
}

/** Google: Workload Identity Federation, optional service-account impersonation, Artifact Registry and gcr.io. */
export const gcpProvider = {
  kind: GCP_KIND,
  parse: parseGcpOidcInputs,
  target,
  mint,
  login,
  registries,
  recipe: (inputs: GcpOidcInputs, audience: string, hosts: string[], env: Env): Omit<GcpRecipe, 'group'> =>
    gcpRecipe({ audience, hosts, provider: inputs.provider.name, serviceAccount: inputs.serviceAccount, tokenLifetimeSeconds: inputs.tokenLifetimeSeconds }, env),
  refresh,
  diagnose,
} satisfies Provider<GcpOidcInputs, GoogleMintSettings, GoogleMinted, Omit<GcpRecipe, 'group'>>;
