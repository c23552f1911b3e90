import type { RecipeBase, StoredRecipe } from '../provider.ts';
import type { EcrTargetInputs } from './ecr-login.ts';
import { regionProblem } from './validate.ts';

/** What the AWS mint needs, whether from a login's inputs or from a recipe read back by the helper. */
export type AwsEcrTarget = EcrTargetInputs & {
  roleArn: string;
  sessionName: string;
  durationSeconds: number;
};

/** How the helper mints an ECR login again: role, region, accounts, and the login's endpoint settings. */
export type AwsEcrRecipe = RecipeBase &
  AwsEcrTarget & {
    kind: 'aws-ecr';
    /**
     * The AWS SDK's endpoint settings the login ran with (AWS_ENDPOINT_URL*, FIPS, dual-stack,
     * regional STS, CA bundle): a refresh runs wherever docker runs, perhaps in a step without them.
     */
    settings?: Record<string, string>;
  };

export const AWS_ECR_KIND = 'aws-ecr' as const;

/** Endpoint settings worth carrying from the login to a refresh; none of them holds a secret. */
const CARRIED_SETTING = /^AWS_(ENDPOINT_URL(_[A-Z0-9_]+)?|USE_FIPS_ENDPOINT|USE_DUALSTACK_ENDPOINT|STS_REGIONAL_ENDPOINTS|CA_BUNDLE|IGNORE_CONFIGURED_ENDPOINT_URLS)$/;

export function awsSettings(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => CARRIED_SETTING.test(entry[0]) && typeof entry[1] === 'string' && entry[1] !== ''));
}

/**
 * A recipe is a file: what could send the job token elsewhere is checked before any request (the
 * region names STS's host; the endpoint settings are checked as they are pinned). The role, session
 * and accounts go to STS and ECR as written, which refuse what is wrong.
 */
export function checkAwsRecipe(recipe: StoredRecipe): AwsEcrRecipe {
  if (recipe.kind !== AWS_ECR_KIND || typeof recipe.region !== 'string' || regionProblem(recipe.region)) throw new Error('the recipe has no valid kind and region');
  return recipe as AwsEcrRecipe;
}

/**
 * The environment the SDK reads during a refresh: the login's endpoint settings and nothing of the
 * asking step's. A fresh job token must reach only the endpoints the login used (or the defaults),
 * and only their answer may be cached for the registry; a later step pointed at LocalStack or
 * another server (AWS_ENDPOINT_URL*, a profile's endpoint_url) gets nothing. The shared config
 * files are not read at all: the refresh needs no profile (region and keys are explicit).
 */
export function pinnedAwsEnv(recipe: Pick<AwsEcrRecipe, 'settings'>, env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const pinned: Record<string, string | undefined> = {};
  for (const name of Object.keys(env)) if (CARRIED_SETTING.test(name)) pinned[name] = undefined;
  for (const [name, value] of Object.entries(recipe.settings ?? {})) {
    if (!CARRIED_SETTING.test(name) || typeof value !== 'string') throw new Error(`the recipe has an invalid setting ${JSON.stringify(name)}`);
    pinned[name] = value;
  }
  pinned.AWS_CONFIG_FILE = '/dev/null';
  pinned.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';
  pinned.AWS_PROFILE = undefined;
  pinned.AWS_DEFAULT_PROFILE = undefined;
  return pinned;
}

/** Runs `work` with process.env changed as `changes` says (undefined: unset), then puts it back. */
export async function withProcessEnv<T>(changes: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(changes).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(changes);
  try {
    return await work();
  } finally {
    apply(before);
  }
}
