import { getEcrAuthorization, getEcrPublicAuthorization, type AwsCredentials, type AwsRetryOptions, type RegistryLogin } from './index.ts';
import type { Reporter } from '../../core/output.ts';
import type { RetryDeps } from '../../core/retry.ts';

/** Which ECR registries a login covers (both ECR commands take these parameters). */
export interface EcrTargetInputs {
  region: string;
  /** Empty: the caller's own account. */
  accountIds: string[];
  includePublic: boolean;
}

/** One ECR authorization token per account's registry (and ECR Public when asked), registered with the redactor. */
export async function fetchEcrLogins(
  targets: EcrTargetInputs,
  credentials: AwsCredentials,
  deps: { reporter: Reporter; retry: RetryDeps; aws?: AwsRetryOptions },
): Promise<RegistryLogin[]> {
  const { reporter } = deps;
  const logins: RegistryLogin[] = await getEcrAuthorization({
    region: targets.region,
    credentials,
    registryIds: targets.accountIds,
    retry: { deps: deps.retry, ...deps.aws, onRetry: (attempt, verdict, delay) => reporter.retrying('ecr:GetAuthorizationToken', attempt, verdict.reason, delay) },
  });
  if (targets.includePublic) {
    logins.push(await getEcrPublicAuthorization({ credentials, retry: { deps: deps.retry, ...deps.aws } }));
  }
  for (const login of logins) reporter.redactor.addCredentials(login.username, login.password);
  return logins;
}
