import type { Env } from '../../core/env.ts';
import type { RecipeBase, StoredRecipe } from '../provider.ts';
import { ENDPOINT_VARIABLES } from './inputs.ts';
import { parseWorkloadIdentityProvider, serviceAccountProblem } from './validate.ts';

/** How the helper mints a Google access token again: the provider, the service account, the login's endpoints. */
export type GcpRecipe = RecipeBase & {
  kind: 'gcp';
  /** `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  provider: string;
  /** '': the federated token itself is the registry password. */
  serviceAccount: string;
  tokenLifetimeSeconds: number;
  /**
   * The CLOUDSDK_API_ENDPOINT_OVERRIDES_* values the login ran with, so that a refresh in a step
   * without them reaches the same endpoints.
   */
  settings?: Record<string, string>;
};

export const GCP_KIND = 'gcp';

const CARRIED = new Set<string>(Object.values(ENDPOINT_VARIABLES));

/** The endpoint overrides the login ran with (none holds a secret), for the recipe. */
export function gcpSettings(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => CARRIED.has(entry[0]) && typeof entry[1] === 'string' && entry[1].trim() !== ''));
}

/** The recipe a login writes (field order fixed: the group id is a hash of it). */
export function gcpRecipe(fields: { audience: string; hosts: string[]; provider: string; serviceAccount: string; tokenLifetimeSeconds: number }, env: Env): Omit<GcpRecipe, 'group'> {
  return {
    kind: 'gcp',
    audience: fields.audience,
    hosts: fields.hosts,
    provider: fields.provider,
    serviceAccount: fields.serviceAccount,
    tokenLifetimeSeconds: fields.tokenLifetimeSeconds,
    settings: gcpSettings(env),
  };
}

/** A recipe is a file: its Google fields are checked as the login's inputs were, before any request. */
export function checkGcpRecipe(stored: StoredRecipe): GcpRecipe {
  const recipe = stored as Partial<GcpRecipe> & RecipeBase;
  if (recipe.kind !== GCP_KIND) throw new Error(`the recipe is of kind ${JSON.stringify(recipe.kind)}, not ${GCP_KIND}`);
  const provider = parseWorkloadIdentityProvider(String(recipe.provider));
  if ('error' in provider || provider.name !== recipe.provider) throw new Error('the recipe has no valid workload identity provider');
  if (typeof recipe.serviceAccount !== 'string' || (recipe.serviceAccount !== '' && serviceAccountProblem(recipe.serviceAccount) !== undefined)) throw new Error('the recipe has no valid service account');
  const lifetime = recipe.tokenLifetimeSeconds;
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 600 || lifetime > 43200) throw new Error('the recipe has no valid token lifetime');
  const settings: unknown = recipe.settings;
  if (settings !== undefined) {
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw new Error('the recipe has invalid settings');
    for (const [name, value] of Object.entries(settings)) {
      if (!CARRIED.has(name) || typeof value !== 'string') throw new Error(`the recipe has an invalid setting ${JSON.stringify(name)}`);
    }
  }
  return recipe as GcpRecipe;
}
