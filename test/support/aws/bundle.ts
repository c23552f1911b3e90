import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { awsBundleOptions } from '../../../scripts/lib/aws-trim/bundle-options.ts';

/** Bundles an entry the way the orb ships it (node, cjs, minified) with the AWS size options. */
export async function bundleForNode(entry: string, outDir: string, useAwsOptions = true): Promise<{ file: string; bytes: number; gzipBytes: number; inputs: Record<string, number> }> {
  const file = join(outDir, 'bundle.cjs');
  const result = await build({
    ...(useAwsOptions ? awsBundleOptions : {}),
    entryPoints: [entry],
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    outfile: file,
    metafile: true,
    logLevel: 'error',
  });
  const output = Object.values(result.metafile.outputs)[0];
  const inputs: Record<string, number> = {};
  for (const [path, info] of Object.entries(output?.inputs ?? {})) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path;
    inputs[pkg] = (inputs[pkg] ?? 0) + info.bytesInOutput;
  }
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(file);
  return { file, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length, inputs };
}
