import { assumeRoleWithWebIdentity, type AwsRetryOptions } from '../clouds/aws/index.ts';
import { fetchEcrLogins } from '../clouds/aws/ecr-login.ts';
import type { RetryPolicy } from '../core/retry.ts';
import type { AwsEcrRecipe } from './recipe.ts';
import type { MintedGroup, RefreshDeps } from './refreshers.ts';

/** Fewer, shorter retries than at login: docker is waiting, and the whole refresh has a deadline. */
const REFRESH_AWS_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000, maxServerWaitMs: 4_000 };

/** Endpoint settings worth carrying from the login to a refresh; none of them holds a secret. */
const CARRIED_SETTING = /^AWS_(ENDPOINT_URL(_[A-Z0-9_]+)?|USE_FIPS_ENDPOINT|USE_DUALSTACK_ENDPOINT|STS_REGIONAL_ENDPOINTS|CA_BUNDLE|IGNORE_CONFIGURED_ENDPOINT_URLS)$/;

export function awsSettings(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => CARRIED_SETTING.test(entry[0]) && typeof entry[1] === 'string' && entry[1] !== ''));
}

/**
 * The environment the SDK reads during a refresh: the login's endpoint settings and nothing of the
 * asking step's. A fresh job token must reach only the endpoints the login used (or the defaults),
 * and only their answer may be cached for the registry; a later step pointed at LocalStack or
 * another server (AWS_ENDPOINT_URL*, a profile's endpoint_url) gets nothing. The shared config
 * files are not read at all: the refresh needs no profile (region and keys are explicit).
 */
export function pinnedAwsEnv(recipe: AwsEcrRecipe, env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
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
async function withProcessEnv<T>(changes: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
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

/** aws-ecr: the job token → STS AssumeRoleWithWebIdentity → ECR (and ECR Public) tokens for the group's hosts. */
export async function refreshAwsEcr(recipe: AwsEcrRecipe, jobToken: string, deps: RefreshDeps): Promise<MintedGroup> {
  // The SDK reads process.env, which is the asking step's: pinned to the login's settings.
  return withProcessEnv(pinnedAwsEnv(recipe, process.env), () => mintAwsEcr(recipe, jobToken, deps));
}

async function mintAwsEcr(recipe: AwsEcrRecipe, jobToken: string, deps: RefreshDeps): Promise<MintedGroup> {
  const retry: AwsRetryOptions = { policy: REFRESH_AWS_POLICY, deps: deps.retry };
  const assumed = await assumeRoleWithWebIdentity({
    region: recipe.region,
    roleArn: recipe.roleArn,
    sessionName: recipe.sessionName,
    durationSeconds: recipe.durationSeconds,
    token: jobToken,
    retry,
  });
  const { credentials } = assumed;
  const logins = await fetchEcrLogins(recipe, credentials, { retry: deps.retry, aws: retry });
  return {
    registries: logins
      .filter((login) => recipe.hosts.includes(login.registry))
      .map((login) => ({ host: login.registry, username: login.username, secret: login.password, expiresAt: login.expiresAt })),
    awsCredentials: credentials,
    secrets: [credentials.secretAccessKey, credentials.sessionToken, ...logins.map((login) => login.password)],
  };
}
