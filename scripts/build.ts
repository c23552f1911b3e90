/**
 * npm run build: one esbuild bundle per orb command, each wrapped in the bash launcher as
 * orb/scripts/generated/<command>.sh, then orb/ packed into dist/orb.yml. Same commit in, same
 * bytes out: esbuild and brotli are deterministic and nothing here reads the clock.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { awsBundleOptions } from '../src/clouds/aws/bundle-options.ts';
import { orbToYaml, packOrb } from './lib/pack.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const orbDir = join(root, 'orb');
const generatedDir = join(orbDir, 'scripts', 'generated');
export const MIN_NODE_MAJOR = 20;
/** Linux's MAX_ARG_STRLEN: one argument or environment string. */
export const ARGUMENT_LIMIT = 128 * 1024;

/** The esbuild settings every command bundle is built with (the bundle-size test uses them too). */
export const BUNDLE_OPTIONS = {
  // Size without changing behaviour: ES module builds of the AWS SDK (they tree-shake), a stub
  // for the never-called default credential chain, no `debug` tracing (see the file).
  ...awsBundleOptions,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${MIN_NODE_MAJOR}`,
  minify: true,
  // The launcher runs the bundle through vm, which has no dynamic-import loader on every node
  // 20 release: import() of node builtins (the SDK's http handler) becomes require().
  supported: { 'dynamic-import': false },
  metafile: true,
} as const;

export async function bundleCommand(command: string): Promise<{ code: string; packages: Map<string, string> }> {
  const entry = join(root, 'src', 'commands', `${command}.ts`);
  const run = `runCommand(${JSON.stringify(command)}, main).then((code) => { process.exitCode = code; });`;
  // A command that exports helperMain (the OIDC logins) doubles as docker-credential-regauth's
  // refresh code: `node <bundle> --regauth-helper …` runs it instead of the command.
  const helper = /^export const helperMain\b/m.test(readFileSync(entry, 'utf8'))
    ? `import { helperMain } from ${JSON.stringify(entry)};\nif (process.argv[2] === '--regauth-helper') helperMain(process.argv.slice(3)).then((code) => process.exit(code), () => process.exit(1));\nelse ${run}\n`
    : `${run}\n`;
  const result = await build({
    ...BUNDLE_OPTIONS,
    stdin: {
      contents: `import { main } from ${JSON.stringify(entry)};\nimport { runCommand } from ${JSON.stringify(join(root, 'src', 'core', 'cli.ts'))};\n${helper}`,
      resolveDir: root,
      sourcefile: `regauth-${command}.ts`,
      loader: 'ts',
    },
    write: false,
    logLevel: 'warning',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced nothing for ${command}`);
  const packages = new Map<string, string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1] && !packages.has(match[1])) packages.set(match[1], packageLicense(match[1]));
  }
  return { code: output.text, packages };
}

function packageLicense(name: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string; license?: string };
  return `${name}@${manifest.version ?? '?'} (${manifest.license ?? 'see package'})`;
}

export function wrapInLauncher(command: string, code: string, version: string): string {
  const payload = brotliCompressSync(Buffer.from(code), {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: code.length },
  }).toString('base64');
  const digest = createHash('sha256').update(code).digest('hex');
  const launcher = readFileSync(join(orbDir, 'scripts', 'launcher.sh'), 'utf8');
  return [
    '#!/usr/bin/env bash',
    `# regauth ${version}, command ${command}: built by \`npm run build\` from src/commands/${command}.ts.`,
    `# The payload is the esbuild bundle (sha256 ${digest}) compressed with brotli;`,
    '# `npm run build` on the tagged source reproduces this step byte for byte.',
    `REGAUTH_MIN_NODE=${MIN_NODE_MAJOR}`,
    `REGAUTH_BUNDLE='${payload}'`,
    launcher,
  ].join('\n');
}

export function orbCommands(): string[] {
  return readdirSync(join(orbDir, 'commands'))
    .filter((file) => file.endsWith('.yml'))
    .map((file) => basename(file, '.yml'))
    .sort();
}

async function main(): Promise<void> {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  mkdirSync(generatedDir, { recursive: true });
  const thirdParty = new Map<string, string>();
  const rows: string[] = [];
  for (const command of orbCommands()) {
    if (!existsSync(join(root, 'src', 'commands', `${command}.ts`))) throw new Error(`orb/commands/${command}.yml has no src/commands/${command}.ts`);
    const { code, packages } = await bundleCommand(command);
    for (const [name, line] of packages) thirdParty.set(name, line);
    const script = wrapInLauncher(command, code, version);
    writeFileSync(join(generatedDir, `${command}.sh`), script);
    rows.push(`${command.padEnd(16)} bundle ${kib(code.length).padStart(9)}  run step ${kib(Buffer.byteLength(script)).padStart(9)}`);
  }
  const orb = packOrb(orbDir);
  const yamlText = orbToYaml(orb);
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'orb.yml'), yamlText);
  writeFileSync(join(root, 'dist', 'THIRD_PARTY.txt'), `Packages bundled into dist/orb.yml:\n${[...thirdParty.values()].sort().join('\n')}\n`);
  for (const [command, size] of runStepSizes(orb)) {
    if (size >= ARGUMENT_LIMIT) throw new Error(`a run step of ${command} is ${size} bytes; it must stay under ${ARGUMENT_LIMIT} (one argument on Linux)`);
  }
  console.log(rows.join('\n'));
  console.log(`dist/orb.yml ${kib(Buffer.byteLength(yamlText))} (sha256 ${createHash('sha256').update(yamlText).digest('hex')})`);
}

/** The largest run-step command of each orb command, in bytes. */
export function runStepSizes(orb: Record<string, unknown>): Map<string, number> {
  const sizes = new Map<string, number>();
  const commands = (orb.commands ?? {}) as Record<string, { steps?: unknown[] }>;
  for (const [name, definition] of Object.entries(commands)) {
    for (const step of definition.steps ?? []) {
      const run = (step as { run?: { command?: unknown } }).run;
      if (run && typeof run.command === 'string') sizes.set(name, Math.max(sizes.get(name) ?? 0, Buffer.byteLength(run.command)));
    }
  }
  return sizes;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
