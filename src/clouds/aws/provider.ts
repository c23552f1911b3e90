import type { Env } from '../../core/env.ts';
import { UserError } from '../../core/errors.ts';
import type { Reporter } from '../../core/output.ts';
import { runProcess } from '../../core/process.ts';
import type { RetryDeps, RetryPolicy } from '../../core/retry.ts';
import { findAgent, mintAudience, mintOidcToken, type TokenClaims } from '../../job-token/index.ts';
import { parseRegistryHost } from '../../registry/host.ts';
import { explained, type Diagnosed, type LoginDeps, type LoginToken, type MintDeps, type MintedGroup, type Provider, type RegistryCredentials, type StoredRecipe } from '../provider.ts';
import type { AwsRetryOptions } from './call.ts';
import { diagnose as diagnoseClaims } from './diagnose.ts';
import { fetchEcrLogins, type EcrLogin } from './ecr-login.ts';
import { AwsCallError, awsFailureWhat } from './errors.ts';
import { parseEcrOidcInputs, type EcrOidcInputs } from './inputs.ts';
import { AWS_ECR_KIND, awsSettings, checkAwsRecipe, pinnedAwsEnv, withProcessEnv, type AwsEcrRecipe, type AwsEcrTarget } from './recipe.ts';
import { assumeRoleWithWebIdentity, type AssumeRoleInput, type AwsCredentials } from './sts.ts';

/** What the AWS mint yields: the role's keys, and one ECR login per registry (ECR Public too when asked). */
export interface AwsMinted {
  credentials: Required<AwsCredentials>;
  logins: EcrLogin[];
}

export type AwsMintDeps = MintDeps & {
  /** Called at most once, when STS calls the token invalid or expired (a login only). */
  reauth?: AssumeRoleInput['reauth'];
};

/** Fewer, shorter retries than at login: docker is waiting, and the whole refresh has a deadline. */
export const REFRESH_AWS_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000, maxServerWaitMs: 4_000 };

const STS = 'sts:AssumeRoleWithWebIdentity';

function target(inputs: EcrOidcInputs): AwsEcrTarget {
  return {
    region: inputs.region,
    accountIds: inputs.accountIds,
    includePublic: inputs.includePublic,
    roleArn: inputs.roleArn,
    sessionName: inputs.roleSessionName,
    durationSeconds: inputs.sessionDurationSeconds,
  };
}

/** The one AWS mint: the job token → STS AssumeRoleWithWebIdentity → ECR (and ECR Public) tokens. */
async function mint(to: AwsEcrTarget, jobToken: string, deps: AwsMintDeps): Promise<AwsMinted> {
  const { reporter } = deps;
  const aws: AwsRetryOptions = { deps: deps.retry, ...(deps.policy ? { policy: deps.policy } : {}) };
  const assumed = await assumeRoleWithWebIdentity({
    region: to.region,
    roleArn: to.roleArn,
    sessionName: to.sessionName,
    durationSeconds: to.durationSeconds,
    token: jobToken,
    ...(deps.reauth ? { reauth: deps.reauth } : {}),
    retry: { ...aws, ...(reporter ? { onRetry: (attempt, verdict, delay) => reporter.retrying(STS, attempt, verdict.reason, delay) } : {}) },
  });
  const { credentials } = assumed;
  reporter?.redactor.add(credentials.secretAccessKey);
  reporter?.redactor.add(credentials.sessionToken);
  reporter?.redactor.add(assumed.token);
  const logins = await fetchEcrLogins(to, credentials, { ...(reporter ? { reporter } : {}), retry: deps.retry, aws });
  return { credentials, logins };
}

/** A login's mint: a token STS calls invalid or expired is minted again once (through the job agent). */
async function login(inputs: EcrOidcInputs, { first, claims }: LoginToken, { env, reporter, retry }: LoginDeps): Promise<AwsMinted> {
  // Re-minting needs CircleCI's job agent; without it STS's verdict (and the diagnosis) stands.
  const reauth = !first.mintFailed && (await findAgent(env)).found ? remint(mintAudience(inputs.audience, claims, env), env, reporter, retry) : undefined;
  try {
    return await mint(target(inputs), first.token, { retry, reporter, ...(reauth ? { reauth } : {}) });
  } catch (error) {
    throw explained(error, diagnose(error, claims, inputs), reporter);
  }
}

/** Called at most once, when STS calls the token invalid or expired. */
function remint(audience: string, env: Env, reporter: Reporter, retry: RetryDeps): NonNullable<AssumeRoleInput['reauth']> {
  return async () => {
    reporter.line(`regauth: STS refused the token as invalid or expired; minting a fresh one with aud ${audience}`);
    const fresh = await mintOidcToken(audience, { env, run: runProcess, retryDeps: retry });
    reporter.redactor.add(fresh);
    return fresh;
  };
}

/** STS refusing the token: the claims next to what the role's trust policy must allow, then one closing line (five in all). */
function diagnose(error: unknown, claims: TokenClaims, inputs: EcrOidcInputs): Diagnosed | undefined {
  if (!(error instanceof AwsCallError) || error.kind === 'transient' || error.operation !== STS) return undefined;
  const { lines, cause } = diagnoseClaims(claims, inputs.roleArn, error.code);
  return { lines, error: new UserError(`${awsFailureWhat(error.operation, error.classification, error.attempts)}; likely cause: ${cause}`) };
}

/** docker's credentials per registry ECR named in `proxyEndpoint`; a host regauth cannot use fails the login. */
function registries(_inputs: unknown, minted: AwsMinted): RegistryCredentials[] {
  return minted.logins.map((login) => {
    const registry = parseRegistryHost(login.registry);
    if ('error' in registry) throw new UserError(`ECR answered a proxyEndpoint host that ${registry.error}; nothing was logged in to it`);
    return { host: registry.host, username: login.username, secret: login.password, expiresAt: login.expiresAt };
  });
}

/** The helper's mint: the recipe checked, the SDK pinned to the login's endpoints, only the recipe's hosts. */
async function refresh(stored: StoredRecipe, jobToken: string, deps: { retry: RetryDeps }): Promise<MintedGroup> {
  const recipe = checkAwsRecipe(stored);
  // The SDK reads process.env, which is the asking step's: pinned to the login's settings.
  const minted = await withProcessEnv(pinnedAwsEnv(recipe, process.env), () => mint(recipe, jobToken, { retry: deps.retry, policy: REFRESH_AWS_POLICY }));
  const { credentials, logins } = minted;
  return {
    // Hosts as the login named them (and only those: ECR may answer for more accounts than the group serves).
    registries: registries(recipe, minted).filter((registry) => recipe.hosts.includes(registry.host)),
    awsCredentials: credentials,
    secrets: [credentials.secretAccessKey, credentials.sessionToken, ...logins.map((login) => login.password)],
  };
}

/** AWS: role via web identity, ECR and ECR Public registries, an exported profile (see profile.ts). */
export const awsEcrProvider = {
  kind: AWS_ECR_KIND,
  parse: parseEcrOidcInputs,
  target,
  mint,
  login,
  registries,
  recipe: (inputs: EcrOidcInputs, audience: string, hosts: string[], env: Env): Omit<AwsEcrRecipe, 'group'> => ({ kind: AWS_ECR_KIND, audience, hosts, ...target(inputs), settings: awsSettings(env) }),
  refresh,
  diagnose,
} satisfies Provider<EcrOidcInputs, AwsEcrTarget, AwsMinted, Omit<AwsEcrRecipe, 'group'>>;
