import { fetchEcrLogins, type EcrTargetInputs } from '../../clouds/aws/ecr-login.ts';
import type { AwsCredentials, AwsRetryOptions, RegistryLogin } from '../../clouds/aws/index.ts';
import { UserError } from '../../core/errors.ts';
import { loginLine, type LoginLineParts, type Reporter } from '../../core/output.ts';
import type { RetryDeps } from '../../core/retry.ts';
import { loginWithRetry, type DockerDeps } from '../../docker/login.ts';
import { parseRegistryHost } from '../../registry/host.ts';

// The wiring both ECR commands share: ECR's answer (clouds/aws) handed to docker (docker/), which
// neither of those layers may import from the other.

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
