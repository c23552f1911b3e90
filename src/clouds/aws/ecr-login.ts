import { getEcrAuthorization, getEcrPublicAuthorization, type AwsCredentials, type AwsRetryOptions, type RegistryLogin } from './index.ts';
import type { Reporter } from '../../core/output.ts';
import type { RetryDeps } from '../../core/retry.ts';

/** Which ECR registries a login covers (both ECR commands take these parameters, a refresh recipe keeps them). */
export type EcrTargetInputs = {
  region: string;
  /** Empty: the caller's own account. */
  accountIds: string[];
  includePublic: boolean;
};

/**
 * ECR and ECR Public document their tokens as valid for 12 h and state `expiresAt` in each answer;
 * that stated expiry is used. Where an answer states none, the token is taken to expire 12 h after
 * regauth asked for it (counted from before the request, so never later than the real expiry).
 */
export const ECR_TOKEN_LIFETIME_MS = 12 * 3600_000;

/** A registry login whose expiry is known: ECR's own, else the documented lifetime. */
export type EcrLogin = RegistryLogin & { expiresAt: Date };

/**
 * One ECR authorization token per account's registry (and ECR Public when asked): what a login
 * and a refresh both fetch. With a reporter, retries are announced and the passwords registered
 * with its redactor; a refresh passes its own retry policy and keeps its secrets itself.
 */
export async function fetchEcrLogins(
  targets: EcrTargetInputs,
  credentials: AwsCredentials,
  deps: { reporter?: Reporter; retry: RetryDeps; aws?: AwsRetryOptions },
): Promise<EcrLogin[]> {
  const { reporter } = deps;
  const retry = (operation: string): AwsRetryOptions => ({
    deps: deps.retry,
    ...deps.aws,
    ...(reporter ? { onRetry: (attempt: number, verdict: { reason: string }, delay: number) => reporter.retrying(operation, attempt, verdict.reason, delay) } : {}),
  });
  const askedAtMs = Date.now();
  const logins: RegistryLogin[] = await getEcrAuthorization({ region: targets.region, credentials, registryIds: targets.accountIds, retry: retry('ecr:GetAuthorizationToken') });
  if (targets.includePublic) logins.push(await getEcrPublicAuthorization({ credentials, retry: retry('ecr-public:GetAuthorizationToken') }));
  for (const login of logins) reporter?.redactor.addCredentials(login.username, login.password);
  return logins.map((login) => ({ ...login, expiresAt: login.expiresAt ?? new Date(askedAtMs + ECR_TOKEN_LIFETIME_MS) }));
}
