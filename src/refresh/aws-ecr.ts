import { assumeRoleWithWebIdentity, getEcrAuthorization, getEcrPublicAuthorization, type AwsRetryOptions } from '../clouds/aws/index.ts';
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

/** aws-ecr: the job token → STS AssumeRoleWithWebIdentity → ECR (and ECR Public) tokens for the group's hosts. */
export async function refreshAwsEcr(recipe: AwsEcrRecipe, jobToken: string, deps: RefreshDeps): Promise<MintedGroup> {
  // The step's own settings win; the login's fill what this step lacks (the SDK reads process.env).
  for (const [name, value] of Object.entries(recipe.settings ?? {})) {
    if (CARRIED_SETTING.test(name) && process.env[name] === undefined) process.env[name] = value;
  }
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
  const logins = await getEcrAuthorization({ region: recipe.region, credentials, registryIds: recipe.accountIds, retry });
  if (recipe.includePublic) logins.push(await getEcrPublicAuthorization({ credentials, retry }));
  const now = Date.now();
  return {
    registries: logins
      .filter((login) => recipe.hosts.includes(login.registry))
      .map((login) => ({ host: login.registry, username: login.username, secret: login.password, expiresAt: login.expiresAt ?? new Date(now + 3600_000) })),
    awsCredentials: credentials,
    secrets: [credentials.secretAccessKey, credentials.sessionToken, ...logins.map((login) => login.password)],
  };
}
