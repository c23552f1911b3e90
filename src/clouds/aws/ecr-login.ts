import { getEcrAuthorization, getEcrPublicAuthorization, type AwsCredentials, type AwsRetryOptions, type RegistryLogin } from './index.ts';
import { loginWithRetry, type DockerDeps } from '../../docker/login.ts';
import { UserError } from '../../core/errors.ts';
import type { EcrTargetInputs } from '../../inputs/ecr.ts';
import { loginLine, type LoginLineParts, type Reporter } from '../../core/output.ts';
import { parseRegistryHost } from '../../registry/host.ts';
import type { RetryDeps } from '../../core/retry.ts';

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

/**
 * After credentials exist (from STS or static keys): one ECR authorization token per account's
 * registry, then docker login to each registry host ECR names in `proxyEndpoint`.
 */
export async function loginToEcrRegistries(
  targets: EcrTargetInputs,
  credentials: AwsCredentials,
  deps: { docker: DockerDeps; reporter: Reporter; retry: RetryDeps; aws?: AwsRetryOptions } & LoginLineParts,
): Promise<string[]> {
  return dockerLoginEcr(await fetchEcrLogins(targets, credentials, deps), deps);
}

/** docker login to each registry host ECR named (the daemon checks the password with the registry). */
export async function dockerLoginEcr(logins: readonly RegistryLogin[], deps: { docker: DockerDeps; reporter: Reporter; retry: RetryDeps } & LoginLineParts): Promise<string[]> {
  const { reporter } = deps;
  const hosts: string[] = [];
  for (const login of logins) {
    const target = parseRegistryHost(login.registry);
    if ('error' in target) throw new UserError(`ECR answered a proxyEndpoint host that ${target.error}; nothing was logged in to it`);
    const { attempts } = await loginWithRetry(deps.docker, target, login.username, login.password, {
      deps: deps.retry,
      onRetry: (attempt, reason, delay) => reporter.retrying(`docker login to ${target.host}`, attempt, reason, delay),
    });
    reporter.line(loginLine(target.host, deps, login.expiresAt, attempts));
    hosts.push(target.host);
  }
  return hosts;
}
