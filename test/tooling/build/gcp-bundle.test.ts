import { describe, expect, it } from 'vitest';
import { bundleCommand, launcherFor } from '../../../scripts/build.ts';

/**
 * gcp-oidc-login ships small: node's own HTTP and the shared retry and proxy code, no Google or
 * AWS client library. The goal is a run step of at most 40 KiB (it is ~22 KiB).
 */
describe('the gcp-oidc-login bundle', () => {
  it('carries no Google or AWS client library, and its run step stays under 40 KiB', async () => {
    const { code, packageDirs } = await bundleCommand('gcp-oidc-login');
    const names = packageDirs.map((dir) => dir.replace(/^.*node_modules\//, ''));
    expect(names.filter((name) => /google|gaxios|gtoken|@aws-sdk|@smithy/.test(name))).toEqual([]);
    const step = launcherFor('gcp-oidc-login', code, '0.0.0', 2);
    expect(Buffer.byteLength(step.script) + step.parts.join('').length).toBeLessThanOrEqual(40 * 1024);
  }, 30_000);
});
