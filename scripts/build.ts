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
import { formatBytes } from '../src/core/units.ts';
import { HELPER_FLAG } from '../src/refresh/bundle-source.ts';
import { minify, type MinifyOptions } from 'terser';
import { parse, stringify } from 'yaml';
import { awsBundleOptions, checkClientPins } from './lib/aws-trim/bundle-options.ts';
import { orbToYaml, packOrb } from './lib/pack.ts';
import { encodePayload, PART_LIMIT, PART_NAME, partName, sha256, splitPayload } from './lib/payload.ts';
import { bundledPackageDirs, describePackages, sbomJson, thirdPartyText, type BundledPackage } from './lib/sbom.ts';

// The orb's namespace and URLs (package.json "orb") are stamped into the packed orb's display and examples.
import { readOrbIdentity, withOrbIdentity } from './lib/orb-identity.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const orbDir = join(root, 'orb');
const generatedDir = join(orbDir, 'scripts', 'generated');
const distDir = join(root, 'dist');
const readableDir = join(distDir, 'readable');
/** The oldest node the bundles target and the launcher accepts (the AWS SDK supports 18). */
export const MIN_NODE_MAJOR = 18;
/** What a person sees at the top of a step: the launcher's command. */
export const VISIBLE_LIMITS = { bytes: 2 * 1024, lines: 40, lineLength: 160 } as const;
/** The per-job goal of issue 21: ecr-oidc-login + pull + logout as compiled YAML, and any one step. */
export const JOB_COMMANDS = ['ecr-oidc-login', 'pull', 'logout'] as const;
export const JOB_LIMIT = 96 * 1024;
export const STEP_LIMIT = 72 * 1024;

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

/**
 * terser after esbuild, on the minified bundle: its compressor (two passes) and its mangler, which
 * names the top-level symbols too, ordered by frequency, take a further 4 to 5 % off each brotli
 * payload (ecr-oidc-login 71.3 → 67.9 kB). Only terser's safe transforms (no `unsafe*` option).
 * `toplevel` is sound because a bundle always runs as a function body: the launcher's vm wrapper,
 * or node's module wrapper when the credential helper runs it as a file; nothing reads its names.
 */
export const TERSER_OPTIONS: MinifyOptions = { ecma: 2020, toplevel: true, compress: { passes: 2 }, mangle: true, format: { comments: false } };

/** esbuild's minified output through terser (TERSER_OPTIONS): what a step carries. */
export async function minifyBundle(code: string): Promise<string> {
  const result = await minify(code, TERSER_OPTIONS);
  if (result.code === undefined) throw new Error('terser produced nothing');
  return result.code;
}

/**
 * Commands whose bundle doubles as docker-credential-regauth's refresh code, and the module
 * whose `helperMain` it runs: `node <bundle> --regauth-helper …` runs that instead of the command.
 */
export const HELPER_ENTRIES: Readonly<Record<string, string>> = {
  'ecr-oidc-login': 'src/commands/ecr-oidc-login.ts',
  'gcp-oidc-login': 'src/commands/gcp-oidc-login.ts',
};

/** The entry esbuild bundles for a command: its main, run by the shared command runner. */
export function commandEntry(command: string) {
  const entry = join(root, 'src', 'commands', `${command}.ts`);
  const run = `runCommand(${JSON.stringify(command)}, main).then((code) => { process.exitCode = code; });`;
  const helperModule = HELPER_ENTRIES[command];
  const helper = helperModule
    ? `import { helperMain } from ${JSON.stringify(join(root, helperModule))};\nif (process.argv[2] === ${JSON.stringify(HELPER_FLAG)}) helperMain(process.argv.slice(3)).then((code) => process.exit(code), () => process.exit(1));\nelse ${run}\n`
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
  return { code: await minifyBundle(output.text), packageDirs: bundledPackageDirs(meta) };
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

/**
 * A command's run step: the launcher a person reads (orb/scripts/generated/<command>.sh) and the
 * payload parts its `environment:` carries (<command>.payload-<n>, as many as the command's YAML
 * declares). The launcher unsets the parts before anything else runs, so no child inherits them.
 */
export function launcherFor(command: string, code: string, version: string, parts: number): { script: string; parts: string[] } {
  const names = Array.from({ length: parts }, (_, i) => partName(i + 1));
  const launcher = readFileSync(join(orbDir, 'scripts', 'launcher.sh'), 'utf8');
  // The launcher writes the node floor as a number (no variable costs visible bytes): it must be this one.
  const floors = [...launcher.matchAll(/node >= (\d+)|versions\.node\) < (\d+)/g)].map((m) => Number(m[1] ?? m[2]));
  if (floors.length !== 3 || floors.some((floor) => floor !== MIN_NODE_MAJOR)) throw new Error(`orb/scripts/launcher.sh: the node floor is not ${MIN_NODE_MAJOR} everywhere (${floors.join(', ')})`);
  const script = [
    '#!/usr/bin/env bash',
    `# regauth ${version}, command ${command}: node runs the bundle in REGAUTH_PAYLOAD_* (Ascii85, digits d, then`,
    `# brotli), readable in dist/readable/${command}.js; \`npm run verify\` checks a file against:`,
    `regauth_sha256=${sha256(code)}`,
    `# Needs bash, node >= ${MIN_NODE_MAJOR} and the docker CLI.`,
    `regauth_payload="${names.map((name) => `$${name}`).join('')}"`,
    `unset ${names.join(' ')}`,
    launcher,
  ].join('\n');
  return { script, parts: splitPayload(encodePayload(code), parts) };
}

/** How many REGAUTH_PAYLOAD_<n> a command's YAML declares, each `<<include(scripts/generated/<command>.payload-<n>)>>`. */
function declaredParts(command: string): number {
  const yaml = parse(readFileSync(join(orbDir, 'commands', `${command}.yml`), 'utf8')) as { steps?: { run?: { environment?: Record<string, unknown> } }[] };
  const environment = yaml.steps?.find((step) => step.run?.environment && Object.keys(step.run.environment).some((key) => PART_NAME.test(key)))?.run?.environment ?? {};
  const keys = Object.keys(environment).filter((key) => PART_NAME.test(key));
  keys.forEach((key, i) => {
    const expected = `<<include(scripts/generated/${command}.payload-${i + 1})>>`;
    if (key !== partName(i + 1) || environment[key] !== expected) throw new Error(`orb/commands/${command}.yml: part ${i + 1} of the payload must be \`${partName(i + 1)}: ${expected}\``);
  });
  if (keys.length === 0) throw new Error(`orb/commands/${command}.yml declares no ${partName(1)}: <<include(scripts/generated/${command}.payload-1)>>`);
  return keys.length;
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
  /** orb/scripts/generated/<command>.sh: the launcher, the step's visible command. */
  readonly script: string;
  /** orb/scripts/generated/<command>.payload-<n>: the step's REGAUTH_PAYLOAD_<n> values. */
  readonly parts: readonly string[];
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
  checkClientPins(root, (path) => readFileSync(path, 'utf8'));
  const commands: CommandBuild[] = [];
  const usage = new Map<string, string[]>();
  for (const command of orbCommands()) {
    if (!existsSync(join(root, 'src', 'commands', `${command}.ts`))) throw new Error(`orb/commands/${command}.yml has no src/commands/${command}.ts`);
    const [{ code, packageDirs }, readable] = await Promise.all([bundleCommand(command), bundleReadable(command)]);
    if (readable.packageDirs.join() !== packageDirs.join()) throw new Error(`the readable bundle of ${command} has other packages than its minified one`);
    for (const dir of packageDirs) usage.set(dir, [...(usage.get(dir) ?? []), command]);
    let step: { script: string; parts: string[] };
    try {
      step = launcherFor(command, code, version, declaredParts(command));
    } catch (error) {
      throw new Error(`${command}: ${(error as Error).message}`);
    }
    commands.push({ command, code, ...step, readable: { code: readable.code, map: readable.map } });
  }
  const generated = new Map(commands.flatMap((c) => [[`scripts/generated/${c.command}.sh`, c.script], ...c.parts.map((part, i) => [`scripts/generated/${c.command}.payload-${i + 1}`, part] as [string, string])]));
  const orb = packOrb(orbDir, (path) => generated.get(path) ?? readFileSync(join(orbDir, path), 'utf8'));
  for (const problem of stepProblems(orb)) throw new Error(problem);
  const packages = describePackages(root, usage);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; license: string };
  return {
    version,
    commands,
    orbYaml: orbToYaml(withOrbIdentity(orb, readOrbIdentity(root))),
    packages,
    sbom: sbomJson(packages, { name: manifest.name, version, license: manifest.license }),
    thirdParty: thirdPartyText(packages),
  };
}

/** Writes the generated scripts and dist/: orb.yml, sbom.cdx.json, THIRD_PARTY.txt, readable/<command>.js(.map). */
export function writeRelease(release: Release): void {
  mkdirSync(generatedDir, { recursive: true });
  for (const file of readdirSync(generatedDir)) rmSync(join(generatedDir, file), { force: true });
  for (const { command, script, parts } of release.commands) {
    writeAtomically(join(generatedDir, `${command}.sh`), script);
    parts.forEach((part, i) => writeAtomically(join(generatedDir, `${command}.payload-${i + 1}`), part));
  }
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
  const orb = parse(release.orbYaml) as Record<string, unknown>;
  const steps = stepBytes(orb);
  const visible = visibleCommands(orb);
  console.log(`regauth: ${'command'.padEnd(16)} ${'bundle'.padStart(9)} ${'step YAML'.padStart(10)} ${'visible'.padStart(9)}  lines`);
  for (const { command, code } of release.commands) {
    const shown = visible.get(command);
    console.log(`regauth: ${command.padEnd(16)} ${formatBytes(Buffer.byteLength(code)).padStart(9)} ${formatBytes(steps.get(command) ?? 0).padStart(10)} ${formatBytes(shown?.bytes ?? 0).padStart(9)}  ${shown?.lines ?? 0}`);
  }
  const job = JOB_COMMANDS.reduce((sum, command) => sum + (steps.get(command) ?? 0), 0);
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
  const largest = Math.max(...steps.values());
  console.log(`regauth: a job with ${JOB_COMMANDS.join(' + ')} adds ${formatBytes(job)} (${kib(job)}; goal ${kib(JOB_LIMIT)}) to a compiled config; largest step ${kib(largest)} (goal ${kib(STEP_LIMIT)})`);
  console.log(`regauth: dist/orb.yml ${formatBytes(Buffer.byteLength(release.orbYaml))} (sha256 ${sha256(release.orbYaml)})`);
  console.log(`regauth: dist/sbom.cdx.json: ${release.packages.length} packages; dist/readable/: ${release.commands.length} readable bundles with source maps`);
}

type RunStepShape = { command?: unknown; environment?: Record<string, unknown> };

function runSteps(orb: Record<string, unknown>): [string, RunStepShape, unknown][] {
  const commands = (orb.commands ?? {}) as Record<string, { steps?: unknown[] }>;
  return Object.entries(commands).flatMap(([name, definition]) =>
    (definition.steps ?? []).flatMap((step) => {
      const run = (step as { run?: RunStepShape }).run;
      return run && typeof run === 'object' ? [[name, run, step] as [string, RunStepShape, unknown]] : [];
    }),
  );
}

/** Bytes each command's steps add to a compiled config: its steps as YAML, as CircleCI expands them into a job. */
export function stepBytes(orb: Record<string, unknown>): Map<string, number> {
  const sizes = new Map<string, number>();
  const commands = (orb.commands ?? {}) as Record<string, { steps?: unknown[] }>;
  for (const [name, definition] of Object.entries(commands)) {
    sizes.set(name, Buffer.byteLength(stringify(definition.steps ?? [], { lineWidth: 0, blockQuote: 'literal' })));
  }
  return sizes;
}

/** Each command's largest visible run command: bytes, lines, longest line. */
export function visibleCommands(orb: Record<string, unknown>): Map<string, { bytes: number; lines: number; longestLine: number }> {
  const out = new Map<string, { bytes: number; lines: number; longestLine: number }>();
  for (const [name, run] of runSteps(orb)) {
    if (typeof run.command !== 'string') continue;
    const lines = run.command.replace(/\n$/, '').split('\n');
    const figures = { bytes: Buffer.byteLength(run.command), lines: lines.length, longestLine: Math.max(...lines.map((line) => line.length)) };
    if (figures.bytes > (out.get(name)?.bytes ?? -1)) out.set(name, figures);
  }
  return out;
}

/** What the build refuses: a visible command over its limits, an environment value over PART_LIMIT, a step over STEP_LIMIT. */
export function stepProblems(orb: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [name, figures] of visibleCommands(orb)) {
    if (figures.bytes > VISIBLE_LIMITS.bytes) problems.push(`${name}: the visible command is ${figures.bytes} bytes (limit ${VISIBLE_LIMITS.bytes})`);
    if (figures.lines > VISIBLE_LIMITS.lines) problems.push(`${name}: the visible command has ${figures.lines} lines (limit ${VISIBLE_LIMITS.lines})`);
    if (figures.longestLine > VISIBLE_LIMITS.lineLength) problems.push(`${name}: a visible line has ${figures.longestLine} characters (limit ${VISIBLE_LIMITS.lineLength})`);
  }
  for (const [name, run] of runSteps(orb)) {
    for (const [key, value] of Object.entries(run.environment ?? {})) {
      if (String(value).length > PART_LIMIT) problems.push(`${name}: environment value ${key} is ${String(value).length} characters (limit ${PART_LIMIT})`);
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
