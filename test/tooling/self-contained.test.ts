/**
 * A clone from GitHub has nothing beside it: no file of the repository may read or name a path
 * outside it. The patterns are assembled from pieces so this file does not match itself. The files
 * are found by walking the tree (not by asking git), so the check also runs in a copy without
 * .git, such as a release tarball.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/lib/schema.ts';

const dots = '\\.\\.';
const OUTSIDE = [
  // The parent folder's shared/ (with either separator, or as path segments): notes beside the clone.
  new RegExp(`${dots}[/\\\\]+shared\\b`),
  new RegExp(`['"]${dots}['"]\\s*,\\s*['"]shared['"]`),
  // The workplace's own absolute folders.
  new RegExp(`/${'work'}/(main|shared|\\.library|\\.mirror)\\b`),
  // resolve or join of the repository root with a parent segment: stepping above the root.
  new RegExp(`(resolve|join)\\(\\s*(root|repoRoot|projectRoot)\\s*,\\s*['"]${dots}['"]\\s*,`),
];

/** .gitignore's simple forms (`name/`, `dir/sub/`, `*.ext`, `name`) as a test on a relative path (pure). */
export function ignoredBy(gitignore: string): (path: string, isDirectory: boolean) => boolean {
  const rules = gitignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('!'))
    .map((line) => {
      const directoryOnly = line.endsWith('/');
      const pattern = line.replace(/\/+$/, '').replace(/^\//, '');
      const anchored = pattern.includes('/');
      const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*').replaceAll('?', '[^/]')}$`);
      return { directoryOnly, anchored, regex };
    });
  return (path, isDirectory) =>
    rules.some((rule) => (!rule.directoryOnly || isDirectory) && rule.regex.test(rule.anchored ? path : (path.split('/').pop() ?? path)));
}

/** The repository's files as a clone or a tarball has them: the tree walked, minus .git and what .gitignore excludes. */
function repositoryFiles(): string[] {
  let gitignore = '';
  try {
    gitignore = readFileSync(join(repoRoot, '.gitignore'), 'utf8');
  } catch {
    // no .gitignore: only .git is left out
  }
  const ignored = ignoredBy(`.git\n${gitignore}`); // .git: a directory, or a file in a worktree
  const files: string[] = [];
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(repoRoot, relative), { withFileTypes: true })) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (ignored(path, entry.isDirectory())) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  walk('');
  return files.filter((file) => !file.startsWith('vendor/') && file !== 'package-lock.json');
}

describe('the repository stands alone', () => {
  it('has no file that reads or names a path outside it', () => {
    const files = repositoryFiles();
    expect(files.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(join(repoRoot, file), 'utf8');
      } catch {
        continue; // unreadable (a socket, a file removed meanwhile)
      }
      text.split('\n').forEach((line, index) => {
        if (OUTSIDE.some((pattern) => pattern.test(line))) offenders.push(`${file}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('catches the forms it is meant to catch', () => {
    const up = '.' + '.';
    const samples = [
      `path.resolve(repoRoot, '${up}', 'shared', 'x.json')`,
      `see ${up}/shared/notes/protocols.md`,
      `/${'work'}/shared/CONTRACT.md`,
      `join(root, '${up}', 'elsewhere')`,
    ];
    for (const sample of samples) expect(OUTSIDE.some((pattern) => pattern.test(sample)), sample).toBe(true);
    expect(OUTSIDE.some((pattern) => pattern.test(`join(root, 'vendor', 'circleci-schema')`))).toBe(false);
  });

  it('walks the tree as git would list it: .git and ignored paths out, sources in', () => {
    const ignored = ignoredBy('node_modules/\ndist/\norb/scripts/generated/\n*.log\n');
    expect(ignored('node_modules', true)).toBe(true);
    expect(ignored('test/fixtures/node_modules', true)).toBe(true);
    expect(ignored('orb/scripts/generated', true)).toBe(true);
    expect(ignored('build.log', false)).toBe(true);
    expect(ignored('dist', false)).toBe(false);
    expect(ignored('orb/scripts/launcher.sh', false)).toBe(false);
    const files = repositoryFiles();
    expect(files).toContain('src/core/places.ts');
    expect(files.some((file) => file.startsWith('node_modules/') || file.startsWith('.git/') || file.startsWith('dist/'))).toBe(false);
  });

  it('carries the CircleCI schema with its licence and provenance', () => {
    const dir = join(repoRoot, 'vendor', 'circleci-schema');
    expect(JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8'))).toHaveProperty('title', 'CircleCI Config');
    expect(readFileSync(join(dir, 'LICENSE.md'), 'utf8')).toMatch(/Apache License/);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/circleci-yaml-language-server/);
  });
});
