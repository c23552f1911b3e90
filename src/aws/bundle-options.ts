import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * esbuild settings that keep the AWS layer small without changing what runs:
 * - the default credential chain (~110 KB) is replaced by a stub that throws: never called,
 *   because every client gets explicit credentials or uses an unsigned operation;
 * - `debug` (DEBUG= tracing of the proxy agents) becomes a no-op;
 * - event-stream support is loaded by the SDK only for event-stream operations (none here),
 *   through a dynamic import, so it stays out of the bundle.
 * - each SDK client imports its whole package.json for one field, `version` (user agent):
 *   only that field is kept.
 * Spread into the build: `{ ...awsBundleOptions, entryPoints, ... }`.
 */
const stub = (name: string): string => fileURLToPath(new URL(`./stubs/${name}.ts`, import.meta.url));

export const awsBundleOptions = {
  mainFields: ['module', 'main'],
  alias: {
    '@aws-sdk/credential-provider-node': stub('credential-provider-node'),
    debug: stub('debug'),
  },
  external: ['@smithy/core/event-streams'],
  legalComments: 'none' as const,
  plugins: [
    {
      name: 'regauth-sdk-package-version',
      setup(build: { onLoad(options: { filter: RegExp }, callback: (args: { path: string }) => Promise<{ contents: string; loader: 'json' }>): void }): void {
        build.onLoad({ filter: /[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/ }, async (args) => {
          const { version } = JSON.parse(await readFile(args.path, 'utf8')) as { version: string };
          return { contents: JSON.stringify({ version }), loader: 'json' };
        });
      },
    },
  ],
};
