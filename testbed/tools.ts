import { execFileSync } from 'node:child_process';

/**
 * Integration suites need real tools (dockerd, docker-registry, skopeo, aws, htpasswd).
 * In CI (CI=true) a missing tool is a failure, never a skip; on a developer's machine the
 * suite is skipped with the reason printed.
 */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** Returns true when the suite may run; throws in CI when a tool is missing. */
export function requireTools(tools: readonly string[]): boolean {
  const missing = missingTools(tools);
  if (missing.length === 0) return true;
  const message = `missing tools: ${missing.join(', ')} (bash .ci/run installs them)`;
  if (process.env.CI === 'true') throw new Error(`${message}; integration tests must not skip in CI`);
  console.warn(`skipping integration suite: ${message}`);
  return false;
}
