import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { escapeIncluded, orbToYaml, packOrb } from '../../scripts/lib/pack.ts';
import { ARGUMENT_LIMIT, orbCommands, runStepSizes } from '../../scripts/build.ts';
import { loadOrb } from '../support/step-runner.ts';

const root = resolve(import.meta.dirname, '..', '..');

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

  it('keeps every run step under the 128 KiB limit of one argument', () => {
    const sizes = runStepSizes(loadOrb());
    expect(sizes.size).toBeGreaterThanOrEqual(2);
    for (const size of sizes.values()) expect(size).toBeLessThan(ARGUMENT_LIMIT);
  });

  it('carries no unescaped << in any included script', () => {
    const orb = loadOrb();
    for (const command of Object.values(orb.commands)) {
      for (const step of command.steps as { run?: { command: string } }[]) {
        const text = step.run?.command ?? '';
        expect(text.replace(/\\<<|<< parameters\.[a-z_]+ >>/g, '')).not.toContain('<<');
        expect(text).not.toMatch(/<<\s*include\(/);
      }
    }
  });
});
