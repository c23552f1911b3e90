import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRelease, orbCommands, type Release } from '../../../scripts/build.ts';
import { changelogTable, parseTable, REGENERATE, renderTable, replaceChangelogTable, replaceTable, staleRows, tableIn, TABLE_END, TABLE_START, type ReleaseRow } from '../../../scripts/lib/release-table.ts';
import { releaseRows } from '../../../scripts/release-tables.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');
let release: Release;
let rows: ReleaseRow[];

beforeAll(async () => {
  release = await buildRelease();
  rows = releaseRows(release);
}, 60_000);

/** One message naming each stale command and the command that fixes it. */
function staleMessage(file: string, problems: readonly string[]): string {
  return `${file}'s release table does not match the build:\n  ${problems.join('\n  ')}\nrun \`${REGENERATE}\` and commit README.md and CHANGELOG.md`;
}

describe('release tables', () => {
  it("has a row per command of the build, with the sha256 verify and the step's launcher name", () => {
    expect(rows.map((r) => r.command)).toEqual(orbCommands());
    for (const { command, code, script } of release.commands) {
      const row = rows.find((r) => r.command === command);
      expect(row?.bundleBytes).toBe(Buffer.byteLength(code));
      expect(script).toContain(`\nregauth_sha256=${row?.sha256}\n`);
    }
  });

  it("README.md's table matches the build", () => {
    const problems = staleRows(rows, tableIn(readFileSync(join(root, 'README.md'), 'utf8')));
    expect(problems, staleMessage('README.md', problems)).toEqual([]);
  });

  it("the CHANGELOG entry of package.json's version carries the same table", () => {
    const table = changelogTable(readFileSync(join(root, 'CHANGELOG.md'), 'utf8'), release.version);
    const problems = staleRows(rows, table);
    expect(problems, staleMessage(`CHANGELOG.md [${release.version}]`, problems)).toEqual([]);
  });

  it('names each stale command: changed hash, changed size, missing row, extra row', () => {
    const [a, b] = [
      { command: 'alpha', sha256: 'a'.repeat(64), bundleBytes: 10, runStepBytes: 5 },
      { command: 'beta', sha256: 'b'.repeat(64), bundleBytes: 20, runStepBytes: 9 },
    ];
    const table = renderTable([a, b]);
    expect(parseTable(table)).toEqual([a, b]);
    expect(staleRows([a, b], table)).toEqual([]);
    expect(staleRows([{ ...a, sha256: 'c'.repeat(64) }, b], table)).toEqual([`alpha: sha256 ${'a'.repeat(64)} in the table, ${'c'.repeat(64)} built`]);
    expect(staleRows([a, { ...b, bundleBytes: 21 }], table)).toEqual(['beta: sizes 20/9 in the table, 21/9 built']);
    expect(staleRows([a, b, { ...a, command: 'gamma' }], table)).toEqual(['gamma: no row']);
    expect(staleRows([a], table)).toEqual(['beta: row for a command the build does not have']);
    expect(staleRows([a], undefined)).toEqual(['the release table markers are missing']);
  });

  it('replaces only the text between the markers, and in the CHANGELOG only in the named version', () => {
    const table = renderTable(rows);
    const readme = `intro\n${TABLE_START}\nold\n${TABLE_END}\noutro\n`;
    expect(replaceTable(readme, table, 'README.md')).toBe(`intro\n${TABLE_START}\n${table}\n${TABLE_END}\noutro\n`);
    const changelog = `# Changelog\n\n## [2.0.0] - Unreleased\n\n${TABLE_START}\n${TABLE_END}\n\n## [1.0.0] - 2026-01-01\n\n${TABLE_START}\nkept\n${TABLE_END}\n`;
    const updated = replaceChangelogTable(changelog, '2.0.0', table);
    expect(changelogTable(updated, '2.0.0')).toBe(table);
    expect(changelogTable(updated, '1.0.0')).toBe('kept');
    expect(() => replaceChangelogTable(changelog, '3.0.0', table)).toThrow(/no entry "## \[3\.0\.0\]"/);
    // A new entry without the block gets one at its end, before the next entry.
    const fresh = replaceChangelogTable(`## [2.1.0] - Unreleased\n\n### Fixed\n\n- a\n\n${changelog.slice(changelog.indexOf('## [2.0.0]'))}`, '2.1.0', table);
    expect(changelogTable(fresh, '2.1.0')).toBe(table);
    expect(fresh).toMatch(/- a\n\n### Bundles\n\n<!-- release-table:start -->\n[\s\S]*<!-- release-table:end -->\n\n## \[2\.0\.0\]/);
    expect(changelogTable(fresh, '2.0.0')).toBe('');
  });
});
