import { getEcrAuthorization, getEcrPublicAuthorization, type AwsCredentials, type AwsRetryOptions, type RegistryLogin } from './aws/index.ts';
import { classifyLoginFailure, dockerLogin, type DockerDeps } from './docker.ts';
import { UserError } from './errors.ts';
import type { EcrTargetInputs } from './inputs/ecr.ts';
import type { Reporter } from './output.ts';
import { parseRegistryHost } from './registry-host.ts';
import { RetriesExhausted, withRetry, type RetryDeps } from './retry.ts';

export const DOCKER_LOGIN_RETRY = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 8000, maxServerWaitMs: 30_000 };

/**
 * After credentials exist (from STS or static keys): one ECR authorization token per account's
 * registry, then docker login to each registry host ECR names in `proxyEndpoint`.
 */
export async function loginToEcrRegistries(
  targets: EcrTargetInputs,
  credentials: AwsCredentials,
  deps: { docker: DockerDeps; reporter: Reporter; retry: RetryDeps; aws?: AwsRetryOptions },
): Promise<string[]> {
  const { reporter } = deps;
  const logins: RegistryLogin[] = await getEcrAuthorization({
    region: targets.region,
    credentials,
    registryIds: targets.accountIds,
    retry: { deps: deps.retry, ...deps.aws, onRetry: (attempt, verdict, delay) => reporter.line(`regauth: ecr:GetAuthorizationToken failed (attempt ${attempt}: ${verdict.reason}); retrying in ${seconds(delay)}`) },
  });
  if (targets.includePublic) {
    logins.push(await getEcrPublicAuthorization({ credentials, retry: { deps: deps.retry, ...deps.aws } }));
  }
  for (const login of logins) reporter.redactor.add(login.password);
  const hosts: string[] = [];
  for (const login of logins) {
    const target = parseRegistryHost(login.registry);
    if ('error' in target) throw new UserError(`ECR answered a proxyEndpoint host that ${target.error}; nothing was logged in to it`);
    try {
      const { attempts } = await withRetry(() => dockerLogin(deps.docker, target, login.username, login.password), classifyLoginFailure, DOCKER_LOGIN_RETRY, deps.retry, (attempt, verdict, delay) =>
        reporter.line(`regauth: docker login to ${target.host} failed (attempt ${attempt}: ${verdict.reason}); retrying in ${seconds(delay)}`),
      );
      const until = login.expiresAt ? ` (token valid until ${login.expiresAt.toISOString().replace(/\.\d+Z$/, 'Z')})` : '';
      reporter.line(`regauth: logged in to ${target.host}${until}${attempts > 1 ? ` after ${attempts} attempts` : ''}`);
      hosts.push(target.host);
    } catch (error) {
      if (error instanceof RetriesExhausted && !(error.last instanceof UserError)) {
        throw new UserError(`docker login to ${target.host} failed${error.attempts > 1 ? ` after ${error.attempts} attempts` : ''}: ${error.verdict.reason}`);
      }
      throw error instanceof RetriesExhausted ? error.last : error;
    }
  }
  return hosts;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
