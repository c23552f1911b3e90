import { mintGoogleAccessToken, parseWorkloadIdentityProvider, serviceAccountProblem, type GoogleMintSettings } from '../clouds/gcp/index.ts';
import type { RetryPolicy } from '../core/retry.ts';
import { ENDPOINT_VARIABLES, parseGoogleEndpoints } from '../inputs/gcp.ts';
import type { Env } from '../inputs/common.ts';
import type { GcpRecipe } from './recipe.ts';
import type { MintedGroup, RefreshDeps } from './refreshers.ts';

/** Fewer, shorter retries than at login: docker is waiting, and the whole refresh has a deadline. */
const REFRESH_GOOGLE_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000, maxServerWaitMs: 4_000 };
const CARRIED = new Set<string>(Object.values(ENDPOINT_VARIABLES));
const USERNAME = 'oauth2accesstoken';

/** The endpoint overrides the login ran with (none holds a secret), for the recipe. */
export function gcpSettings(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => CARRIED.has(entry[0]) && typeof entry[1] === 'string' && entry[1].trim() !== ''));
}

/** A recipe is a file: its Google fields are checked as the login's inputs were, before any request. */
export function checkGcpRecipe(recipe: GcpRecipe): void {
  const provider = parseWorkloadIdentityProvider(String(recipe.provider));
  if ('error' in provider || provider.name !== recipe.provider) throw new Error('the recipe has no valid workload identity provider');
  if (typeof recipe.serviceAccount !== 'string' || (recipe.serviceAccount !== '' && serviceAccountProblem(recipe.serviceAccount) !== undefined)) throw new Error('the recipe has no valid service account');
  const lifetime = recipe.tokenLifetimeSeconds;
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 600 || lifetime > 43200) throw new Error('the recipe has no valid token lifetime');
  const settings: unknown = recipe.settings;
  if (settings === undefined) return;
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw new Error('the recipe has invalid settings');
  for (const [name, value] of Object.entries(settings)) {
    if (!CARRIED.has(name) || typeof value !== 'string') throw new Error(`the recipe has an invalid setting ${JSON.stringify(name)}`);
  }
}

/** gcp: the job token → Google STS → (generateAccessToken) → one access token for every host of the group. */
export async function refreshGcp(recipe: GcpRecipe, jobToken: string, deps: Pick<RefreshDeps, 'retry'>): Promise<MintedGroup> {
  checkGcpRecipe(recipe);
  // Only the login's endpoints (or the defaults): the asking step's overrides never get a job token.
  const settings: GoogleMintSettings = {
    workloadIdentityProvider: recipe.provider,
    serviceAccount: recipe.serviceAccount,
    tokenLifetimeSeconds: recipe.tokenLifetimeSeconds,
    endpoints: parseGoogleEndpoints(recipe.settings ?? {}),
  };
  const { accessToken, expiresAt } = await mintGoogleAccessToken(settings, jobToken, { retryDeps: deps.retry, retryPolicy: REFRESH_GOOGLE_POLICY });
  return { registries: recipe.hosts.map((host) => ({ host, username: USERNAME, secret: accessToken, expiresAt })), secrets: [accessToken] };
}
