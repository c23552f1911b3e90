/**
 * One list of Debian packages: scripts/system-packages.txt, which the install script reads and the
 * README shows between `<!-- system-packages -->` and `<!-- /system-packages -->`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/lib/schema.ts';

/** The package names of system-packages.txt, in order (pure). */
export function listedPackages(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '' && !name.startsWith('#'));
}

/** The backquoted names inside the README's marker block; undefined without the block (pure). */
export function readmePackages(readme: string): string[] | undefined {
  const block = /<!-- system-packages -->([\s\S]*?)<!-- \/system-packages -->/.exec(readme)?.[1];
  return block === undefined ? undefined : [...block.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
}

const list = listedPackages(readFileSync(join(repoRoot, 'scripts', 'system-packages.txt'), 'utf8'));

describe('the Debian packages the tests need, from one list', () => {
  it('lists every package the CI machine gets, each a Debian package name', () => {
    expect(list).toEqual(expect.arrayContaining(['docker-registry', 'skopeo', 'awscli', 'amazon-ecr-credential-helper', 'docker-compose', 'docker.io']));
    for (const name of list) expect(name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
    expect(new Set(list).size).toBe(list.length);
  });

  it('is what the install script reads (it names no package of its own)', () => {
    const script = readFileSync(join(repoRoot, 'scripts', 'install-system-packages.sh'), 'utf8');
    expect(script).toContain('system-packages.txt');
    const code = script.split('\n').filter((line) => !line.startsWith('#')).join('\n');
    for (const name of list) expect(code, name).not.toMatch(new RegExp(`\\b${name.replace(/[.+]/g, '\\$&')}\\b`));
  });

  it('is the README\'s list, in the same order', () => {
    const shown = readmePackages(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
    expect(shown, 'README.md has no <!-- system-packages --> … <!-- /system-packages --> block').toBeDefined();
    expect(shown).toEqual(list);
  });

  it('reads the forms it is meant to read', () => {
    expect(listedPackages('# comment\na\n\nb unless:dockerd\n')).toEqual(['a', 'b']);
    expect(readmePackages('x <!-- system-packages -->`a`, `b`<!-- /system-packages --> `c`')).toEqual(['a', 'b']);
    expect(readmePackages('no block')).toBeUndefined();
  });
});
