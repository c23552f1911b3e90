/**
 * A clone from GitHub has nothing beside it: no tracked file may read or name a path outside
 * the repository. The patterns are assembled from pieces so this file does not match itself.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && !file.startsWith('vendor/') && file !== 'package-lock.json');
}

describe('the repository stands alone', () => {
  it('has no tracked file that reads or names a path outside it', () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(join(repoRoot, file), 'utf8');
      } catch {
        continue; // deleted in the work tree but still tracked
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

  it('carries the CircleCI schema with its licence and provenance', () => {
    const dir = join(repoRoot, 'vendor', 'circleci-schema');
    expect(JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8'))).toHaveProperty('title', 'CircleCI Config');
    expect(readFileSync(join(dir, 'LICENSE.md'), 'utf8')).toMatch(/Apache License/);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/circleci-yaml-language-server/);
  });
});
