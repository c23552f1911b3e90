import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { escapeIncluded, orbToYaml, packOrb } from '../../../scripts/lib/pack.ts';
import { orbCommands, VISIBLE_LIMITS } from '../../../scripts/build.ts';
import { DIGITS, PART_LIMIT, PART_NAME } from '../../../scripts/lib/payload.ts';
import { loadOrb } from '../../../testbed/step-runner.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');

function orbSource(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'regauth-pack-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('the orb packer', () => {
  it('makes each folder of YAML files a key and each file an entry', () => {
    const dir = orbSource({
      '@orb.yml': 'version: 2.1\ndescription: d\n',
      'commands/hello.yml': 'description: h\nsteps: [{run: {name: n, command: echo}}]\n',
      'executors/default.yml': 'description: e\nmachine: {image: ubuntu-2204:current}\n',
      'scripts/x.sh': 'echo only read through includes\n',
    });
    const packed = packOrb(dir);
    expect(Object.keys(packed)).toEqual(['version', 'description', 'commands', 'executors']);
    expect((packed.commands as Record<string, unknown>).hello).toBeDefined();
  });

  it('replaces a whole-value include with the file text, escaping every <<', () => {
    const dir = orbSource({
      '@orb.yml': 'version: 2.1\n',
      'commands/c.yml': 'steps:\n  - run:\n      name: n\n      command: <<include(scripts/s.sh)>>\n',
      'scripts/s.sh': 'cat <<EOF\n<< parameters.x >>\nEOF\n',
    });
    const packed = packOrb(dir) as { commands: { c: { steps: [{ run: { command: string } }] } } };
    expect(packed.commands.c.steps[0].run.command).toBe('cat \\<<EOF\n\\<< parameters.x >>\nEOF\n');
  });

  it('leaves an include that is only part of a value alone (CircleCI does too)', () => {
    expect(escapeIncluded('a << b')).toBe('a \\<< b');
    const dir = orbSource({ '@orb.yml': 'version: 2.1\ndescription: "see <<include(x)>> here"\n' });
    expect(packOrb(dir).description).toBe('see <<include(x)>> here');
  });

  it('round-trips through YAML without folding long lines', () => {
    const orb = { version: 2.1, text: `${'x'.repeat(300)}\nsecond line\n` };
    expect(parse(orbToYaml(orb))).toEqual(orb);
  });
});

describe('npm run build', () => {
  it('writes the same dist/ byte for byte when run twice (orb, SBOM, readable bundles and maps)', () => {
    const hashes = () => {
      const files = (readdirSync(join(root, 'dist'), { recursive: true }) as string[]).filter((f) => statSync(join(root, 'dist', f)).isFile()).sort();
      return Object.fromEntries(files.map((f) => [f, createHash('sha256').update(readFileSync(join(root, 'dist', f))).digest('hex')]));
    };
    execFileSync('node', ['--import', 'tsx', 'scripts/build.ts'], { cwd: root, stdio: 'pipe' });
    const first = hashes();
    const readable = orbCommands().flatMap((command) => [join('readable', `${command}.js`), join('readable', `${command}.js.map`)]);
    expect(Object.keys(first)).toEqual(['THIRD_PARTY.txt', 'orb.yml', ...readable, 'sbom.cdx.json'].sort());
    execFileSync('node', ['--import', 'tsx', 'scripts/build.ts'], { cwd: root, stdio: 'pipe' });
    expect(hashes()).toEqual(first);
  });

  it('shows a short readable launcher in every run step and carries the bundle in environment values of at most 32 KiB', () => {
    const orb = loadOrb();
    const commands = Object.entries(orb.commands);
    expect(commands.map(([name]) => name).sort()).toEqual(orbCommands());
    for (const [name, command] of commands) {
      const runs = (command.steps as { run?: { command: string; environment?: Record<string, unknown> } }[]).flatMap((step) => (step.run ? [step.run] : []));
      expect(runs.length, name).toBeGreaterThan(0);
      for (const run of runs) {
        const lines = run.command.replace(/\n$/, '').split('\n');
        expect(Buffer.byteLength(run.command), name).toBeLessThanOrEqual(VISIBLE_LIMITS.bytes);
        expect(lines.length, name).toBeLessThanOrEqual(VISIBLE_LIMITS.lines);
        expect(Math.max(...lines.map((line) => line.length)), name).toBeLessThanOrEqual(VISIBLE_LIMITS.lineLength);
        // What a person opening the step must learn from it.
        expect(run.command).toMatch(new RegExp(`^#!/usr/bin/env bash\\n# regauth \\d+\\.\\d+\\.\\d+, command ${name}:`));
        expect(run.command).toMatch(/^regauth_sha256=[0-9a-f]{64}$/m);
        expect(run.command).toContain(`dist/readable/${name}.js`);
        expect(run.command).toContain('npm run verify');
        expect(run.command).toContain('Needs bash, node >= 18 and the docker CLI.');
        // No payload wall: no line of the command is a long unbroken run of payload digits (the
        // launcher's one line of the 85 digits themselves is shorter than this).
        expect(run.command).not.toMatch(new RegExp(`[${DIGITS.replace(/[\\\]^-]/g, '\\$&')}]{120}`));
        const parts = Object.keys(run.environment ?? {}).filter((key) => PART_NAME.test(key));
        expect(parts.length, name).toBeGreaterThan(0);
        // The launcher unsets exactly those parts before it runs anything.
        expect(run.command).toMatch(new RegExp(`\\nunset ${parts.join(' ')}( #.*)?\\n`));
        for (const value of Object.values(run.environment ?? {})) expect(String(value).length).toBeLessThanOrEqual(Math.min(PART_LIMIT, 32 * 1024));
      }
    }
  });

  it('carries no unescaped << in any included script', () => {
    const orb = loadOrb();
    for (const command of Object.values(orb.commands)) {
      for (const step of command.steps as { run?: { command: string; environment?: Record<string, unknown> } }[]) {
        const text = [step.run?.command ?? '', ...Object.values(step.run?.environment ?? {}).map(String)].join('\n');
        expect(text.replace(/\\<<|<< parameters\.[a-z_]+ >>/g, '')).not.toContain('<<');
        expect(text).not.toMatch(/<<\s*include\(/);
      }
    }
  });
});
