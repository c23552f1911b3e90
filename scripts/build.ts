/**
 * npm run build: one esbuild bundle per orb command, each wrapped in the bash launcher as
 * orb/scripts/generated/<command>.sh, then orb/ packed into dist/orb.yml; beside it the SBOM
 * (dist/sbom.cdx.json, from esbuild's metafile), THIRD_PARTY.txt and each command's unminified
 * bundle with its source map (dist/readable/, not shipped). Same commit in, same bytes out:
 * esbuild and brotli are deterministic and nothing here reads the clock.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { awsBundleOptions } from '../src/clouds/aws/bundle-options.ts';
import { orbToYaml, packOrb } from './lib/pack.ts';
import { encodePayload, sha256 } from './lib/payload.ts';
import { bundledPackageDirs, describePackages, sbomJson, thirdPartyText, type BundledPackage } from './lib/sbom.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const orbDir = join(root, 'orb');
const generatedDir = join(orbDir, 'scripts', 'generated');
const distDir = join(root, 'dist');
const readableDir = join(distDir, 'readable');
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
  // Each step's first line names the version (src/core/version.ts).
  define: { REGAUTH_VERSION: JSON.stringify(packageVersion()) },
} as const;

/** The entry esbuild bundles for a command: its main, run by the shared command runner. */
function commandEntry(command: string) {
  const entry = join(root, 'src', 'commands', `${command}.ts`);
  const run = `runCommand(${JSON.stringify(command)}, main).then((code) => { process.exitCode = code; });`;
  // A command that exports helperMain (the OIDC logins) doubles as docker-credential-regauth's
  // refresh code: `node <bundle> --regauth-helper …` runs it instead of the command.
  const helper = /^export const helperMain\b/m.test(readFileSync(entry, 'utf8'))
    ? `import { helperMain } from ${JSON.stringify(entry)};\nif (process.argv[2] === '--regauth-helper') helperMain(process.argv.slice(3)).then((code) => process.exit(code), () => process.exit(1));\nelse ${run}\n`
    : `${run}\n`;
  return {
    contents: `import { main } from ${JSON.stringify(entry)};\nimport { runCommand } from ${JSON.stringify(join(root, 'src', 'core', 'cli.ts'))};\n${helper}`,
    resolveDir: root,
    sourcefile: `regauth-${command}.ts`,
    loader: 'ts' as const,
  };
}

/** The minified bundle a command's run step carries, and the package directories (lockfile keys) esbuild put into it. */
export async function bundleCommand(command: string): Promise<{ code: string; packageDirs: string[] }> {
  const result = await build({ ...BUNDLE_OPTIONS, absWorkingDir: root, stdin: commandEntry(command), write: false, logLevel: 'warning' });
  const output = result.outputFiles[0];
  const meta = Object.values(result.metafile.outputs)[0];
  if (!output || !meta) throw new Error(`esbuild produced nothing for ${command}`);
  return { code: output.text, packageDirs: bundledPackageDirs(meta) };
}

/**
 * The same bundle for a reader: the same inputs and settings with minify off, and a source map
 * (sources relative to dist/readable/, with their text) so each line leads back to its file.
 */
export async function bundleReadable(command: string): Promise<{ code: string; map: string; packageDirs: string[] }> {
  const result = await build({
    ...BUNDLE_OPTIONS,
    minify: false,
    sourcemap: 'linked',
    absWorkingDir: root,
    stdin: commandEntry(command),
    outfile: join(readableDir, `${command}.js`),
    write: false,
    logLevel: 'warning',
  });
  const code = result.outputFiles.find((file) => file.path.endsWith('.js'))?.text;
  const map = result.outputFiles.find((file) => file.path.endsWith('.js.map'))?.text;
  const meta = result.metafile.outputs[relative(root, join(readableDir, `${command}.js`))];
  if (code === undefined || map === undefined || !meta) throw new Error(`esbuild produced no readable bundle for ${command}`);
  return { code, map, packageDirs: bundledPackageDirs(meta) };
}

export function wrapInLauncher(command: string, code: string, version: string): string {
  const payload = encodePayload(code);
  const digest = sha256(code);
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

export interface CommandBuild {
  readonly command: string;
  /** The minified bundle the run step carries. */
  readonly code: string;
  /** orb/scripts/generated/<command>.sh: the launcher with the payload. */
  readonly script: string;
  readonly readable: { readonly code: string; readonly map: string };
}

export interface Release {
  readonly version: string;
  readonly commands: readonly CommandBuild[];
  readonly orbYaml: string;
  readonly packages: readonly BundledPackage[];
  readonly sbom: string;
  readonly thirdParty: string;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Everything `npm run build` writes, built in memory from the checkout. */
export async function buildRelease(): Promise<Release> {
  const version = packageVersion();
  const commands: CommandBuild[] = [];
  const usage = new Map<string, string[]>();
  for (const command of orbCommands()) {
    if (!existsSync(join(root, 'src', 'commands', `${command}.ts`))) throw new Error(`orb/commands/${command}.yml has no src/commands/${command}.ts`);
    const [{ code, packageDirs }, readable] = await Promise.all([bundleCommand(command), bundleReadable(command)]);
    if (readable.packageDirs.join() !== packageDirs.join()) throw new Error(`the readable bundle of ${command} has other packages than its minified one`);
    for (const dir of packageDirs) usage.set(dir, [...(usage.get(dir) ?? []), command]);
    commands.push({ command, code, script: wrapInLauncher(command, code, version), readable: { code: readable.code, map: readable.map } });
  }
  const scripts = new Map(commands.map((c) => [`scripts/generated/${c.command}.sh`, c.script]));
  const orb = packOrb(orbDir, (path) => scripts.get(path) ?? readFileSync(join(orbDir, path), 'utf8'));
  for (const [command, size] of runStepSizes(orb)) {
    if (size >= ARGUMENT_LIMIT) throw new Error(`a run step of ${command} is ${size} bytes; it must stay under ${ARGUMENT_LIMIT} (one argument on Linux)`);
  }
  const packages = describePackages(root, usage);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; license: string };
  return {
    version,
    commands,
    orbYaml: orbToYaml(orb),
    packages,
    sbom: sbomJson(packages, { name: manifest.name, version, license: manifest.license }),
    thirdParty: thirdPartyText(packages),
  };
}

/** Writes the generated scripts and dist/: orb.yml, sbom.cdx.json, THIRD_PARTY.txt, readable/<command>.js(.map). */
export function writeRelease(release: Release): void {
  mkdirSync(generatedDir, { recursive: true });
  for (const { command, script } of release.commands) writeAtomically(join(generatedDir, `${command}.sh`), script);
  mkdirSync(readableDir, { recursive: true });
  writeAtomically(join(distDir, 'orb.yml'), release.orbYaml);
  writeAtomically(join(distDir, 'sbom.cdx.json'), release.sbom);
  writeAtomically(join(distDir, 'THIRD_PARTY.txt'), release.thirdParty);
  const current = new Set<string>();
  for (const { command, readable } of release.commands) {
    writeAtomically(join(readableDir, `${command}.js`), readable.code);
    writeAtomically(join(readableDir, `${command}.js.map`), readable.map);
    current.add(`${command}.js`).add(`${command}.js.map`);
  }
  // A command that no longer exists leaves no readable file behind.
  for (const file of readdirSync(readableDir)) if (!current.has(file)) rmSync(join(readableDir, file), { force: true });
}

/** Tests read dist/ while another rebuilds it: a reader sees the old file or the new one, never half of one. */
function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/** dist/readable/<command>.js, relative to the repository root. */
export function readablePath(command: string): string {
  return relative(root, join(readableDir, `${command}.js`));
}

async function main(): Promise<void> {
  const release = await buildRelease();
  writeRelease(release);
  const sizes = runStepSizes(parse(release.orbYaml) as Record<string, unknown>);
  for (const { command, code } of release.commands) {
    console.log(`${command.padEnd(16)} bundle ${kib(code.length).padStart(9)}  run step ${kib(sizes.get(command) ?? 0).padStart(9)}`);
  }
  console.log(`dist/orb.yml ${kib(Buffer.byteLength(release.orbYaml))} (sha256 ${sha256(release.orbYaml)})`);
  console.log(`dist/sbom.cdx.json: ${release.packages.length} packages; dist/readable/: ${release.commands.length} readable bundles with source maps`);
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
