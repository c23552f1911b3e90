/**
 * Role session names: 2–64 of [\w+=,.@-] (STS's constraint). The name shows up in CloudTrail,
 * so the derived one says which project and build assumed the role.
 */
const INVALID = /[^\w+=,.@-]+/g;
const MAX = 64;

export function sanitizeRoleSessionName(raw: string): string {
  let name = raw.replace(INVALID, '-').slice(0, MAX);
  if (name.length < 2) name = `regauth-${name}`.slice(0, MAX);
  return name;
}

/** `regauth-<project>-<build>` from CircleCI's env, e.g. regauth-api-1234. */
export function deriveRoleSessionName(env: Readonly<Record<string, string | undefined>>): string {
  const project = env.CIRCLE_PROJECT_REPONAME?.trim() ?? '';
  const build = env.CIRCLE_BUILD_NUM?.trim() ?? '';
  const parts = ['regauth', project, build].filter((part) => part !== '');
  const raw = parts.join('-');
  // Keep the build number when a long project name has to be cut.
  if (raw.length > MAX && build !== '') {
    const head = sanitizeRoleSessionName(`regauth-${project}`).slice(0, MAX - build.length - 1);
    return sanitizeRoleSessionName(`${head}-${build}`);
  }
  return sanitizeRoleSessionName(raw);
}
