/**
 * The running command's own bundle. regauth's launcher hands the decoded bundle to node on stdin
 * and leaves its text here, so a command can write it to disk for the credential helper's refresh
 * path (`node <bundle> --regauth-helper …`) without carrying a second bundle in the run step.
 */
/** The argument that makes a command's bundle run the credential helper instead (scripts/build.ts). */
export const HELPER_FLAG = '--regauth-helper';

export function bundleSource(): string | undefined {
  const value = (globalThis as { regauthBundleSource?: unknown }).regauthBundleSource;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
