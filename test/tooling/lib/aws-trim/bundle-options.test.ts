import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsBundleOptions } from '../../../../scripts/lib/aws-trim/bundle-options.ts';
import { sdkClientConfig } from '../../../../src/clouds/aws/sdk.ts';

/**
 * The SDK trimming fails the build when what it replaces moved. Each case simulates one SDK
 * update with a plugin that runs before the trim: it hands esbuild the real module where the
 * trim expected to step in, as a renamed path or a moved file would.
 */
const root = resolve(import.meta.dirname, '../../../..');
const entry = { contents: "import { STSClient } from '@aws-sdk/client-sts';\nexport const c = STSClient;\n", resolveDir: root, loader: 'ts' as const };

async function bundleWith(before: Plugin | undefined): Promise<string> {
  const result = await build({
    ...awsBundleOptions,
    plugins: [...(before ? [before] : []), ...awsBundleOptions.plugins],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    stdin: entry,
    absWorkingDir: root,
    write: false,
    logLevel: 'silent',
  }).then(
    () => '',
    (error: { errors?: { text: string }[] }) => (error.errors ?? []).map((e) => e.text).join('\n'),
  );
  return result;
}

describe('the SDK trim tripwires', () => {
  it('pass on the pinned SDK', async () => {
    expect(await bundleWith(undefined)).toBe('');
  }, 30_000);

  it('fail when a relative stub no longer applies (the SDK renamed the import)', async () => {
    const renamed: Plugin = {
      name: 'sdk-renamed-header-formatter',
      setup(b) {
        b.onResolve({ filter: /^\.\/HeaderFormatter$/ }, (args) => ({ path: resolve(args.resolveDir, 'HeaderFormatter.js') }));
      },
    };
    expect(await bundleWith(renamed)).toMatch(/the SDK trim "relative \.\/HeaderFormatter" no longer applies/);
  }, 30_000);

  it('fail when a client file the trim rewrites moved (schemas, rule set)', async () => {
    const moved: Plugin = {
      name: 'sdk-moved-schemas',
      setup(b) {
        b.onLoad({ filter: /[\\/]client-sts[\\/]dist-es[\\/](schemas[\\/]schemas_0|endpoint[\\/](bdd|ruleset))\.js$/ }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'js' }));
      },
    };
    const errors = await bundleWith(moved);
    expect(errors).toMatch(/the SDK trim "errors client-sts" no longer applies/);
    expect(errors).toMatch(/the SDK trim "rules client-sts" no longer applies/);
  }, 30_000);

  it('fail when an aliased package is no longer replaced', async () => {
    const unaliased: Plugin = {
      name: 'sdk-own-credential-chain',
      setup(b) {
        b.onLoad({ filter: /[\\/]aws-trim[\\/]stubs[\\/]credential-provider-node\.ts$/ }, () => ({ contents: 'export const defaultProvider = () => () => Promise.reject(new Error("x"));', loader: 'ts' }));
      },
    };
    expect(await bundleWith(unaliased)).toMatch(/the SDK trim "stub credential-provider-node" no longer applies/);
  }, 30_000);

  it('rest on what every regauth client is given: region, requestHandler, retryMode "standard", no logger', () => {
    // The defaults-mode, instance-metadata-region, adaptive-retry and logger stubs are sound only while
    // src/clouds/aws/sdk.ts gives each client these (the SDK falls back to them otherwise).
    const config = sdkClientConfig('eu-west-1');
    expect(config.region).toBe('eu-west-1');
    expect(config.retryMode).toBe('standard');
    expect(typeof config.requestHandler.handle).toBe('function');
    // ...and no logger: the SDK's NoOpLogger, for which the stubbed logger middleware does nothing.
    expect('logger' in config).toBe(false);
    config.requestHandler.destroy();
  });
});
