/**
 * A recipe says how to mint one registry group's credentials again, later in the job, from a
 * fresh job token. It holds no secret (role, region, accounts, audience …), so it is safe on disk.
 * A tagged union: each cloud adds a kind and one refresh function (see refreshers.ts).
 */
export interface AwsEcrRecipe {
  kind: 'aws-ecr';
  /** `<kind>-<hex>`: names the group's cache, lock and bundle files. */
  group: string;
  /** aud of the job token to mint (`circleci run oidc get --claims`). */
  audience: string;
  /** Registry hosts this group serves (docker's config keys). */
  hosts: string[];
  roleArn: string;
  region: string;
  accountIds: string[];
  includePublic: boolean;
  sessionName: string;
  durationSeconds: number;
  /**
   * The AWS SDK's endpoint settings the login ran with (AWS_ENDPOINT_URL*, FIPS, dual-stack,
   * regional STS, CA bundle): a refresh runs wherever docker runs, perhaps in a step without them.
   */
  settings?: Record<string, string>;
}

export interface GcpRecipe {
  kind: 'gcp';
  group: string;
  /** aud of the job token to mint: the login's audience, or the org id its token carried. */
  audience: string;
  hosts: string[];
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
}

/** Every kind regauth can refresh. */
export type Recipe = AwsEcrRecipe | GcpRecipe;
export type RecipeKind = Recipe['kind'];
/** A recipe as a login builds it, before its group id is derived. */
export type UngroupedRecipe = Omit<AwsEcrRecipe, 'group'> | Omit<GcpRecipe, 'group'>;

// Both are POSIX extended regular expressions too: the bash helper tests the same patterns.
export const GROUP = /^[a-z][a-z0-9]*(-[a-z0-9]+)+$/;
export const HOST = /^[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?$/;

/** The kind a group id starts with (`aws-ecr-1f2e…` → `aws-ecr`). */
export function kindOfGroup(group: string): string {
  return group.slice(0, group.lastIndexOf('-'));
}

/** Checks what any recipe must have; the kind's own fields are checked by its refresher. */
export function parseRecipe(text: string): Recipe {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object') throw new Error('the recipe is not a JSON object');
  const recipe = value as Partial<Recipe>;
  if (typeof recipe.kind !== 'string' || typeof recipe.group !== 'string' || !GROUP.test(recipe.group) || kindOfGroup(recipe.group) !== recipe.kind) throw new Error('the recipe has no valid kind and group');
  if (typeof recipe.audience !== 'string' || recipe.audience === '') throw new Error('the recipe has no audience');
  if (!Array.isArray(recipe.hosts) || !recipe.hosts.every((host) => typeof host === 'string' && HOST.test(host))) throw new Error('the recipe has no valid hosts');
  return recipe as Recipe;
}

export function isValidHost(host: string): boolean {
  return HOST.test(host);
}
