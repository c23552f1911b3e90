// The per-command release table (bundle sha256 and size, run-step size) that README.md's
// verification section and the CHANGELOG entry of the current version carry between markers.
// Pure: rows and text in, text out; scripts/release-tables.ts writes the files.

export const TABLE_START = '<!-- release-table:start -->';
export const TABLE_END = '<!-- release-table:end -->';
/** What a reader runs when a table is stale. */
export const REGENERATE = 'npm run release-tables';

export interface ReleaseRow {
  readonly command: string;
  /** sha256 of the bundle's JavaScript, as verify and the run step's comment name it. */
  readonly sha256: string;
  readonly bundleBytes: number;
  readonly runStepBytes: number;
}

const HEADER = ['| command | bundle sha256 (the JavaScript the step runs) | bundle bytes | step bytes (compiled YAML) |', '|---|---|---:|---:|'];

export function renderTable(rows: readonly ReleaseRow[]): string {
  const sorted = [...rows].sort((a, b) => a.command.localeCompare(b.command));
  return [...HEADER, ...sorted.map((r) => `| \`${r.command}\` | \`${r.sha256}\` | ${r.bundleBytes} | ${r.runStepBytes} |`)].join('\n');
}

/** The rows of a rendered table (the inverse of renderTable), for naming what is stale. */
export function parseTable(table: string): ReleaseRow[] {
  const rows: ReleaseRow[] = [];
  for (const line of table.split('\n')) {
    const match = /^\| `([^`]+)` \| `([0-9a-f]{64})` \| (\d+) \| (\d+) \|$/.exec(line.trim());
    if (match?.[1] && match[2]) rows.push({ command: match[1], sha256: match[2], bundleBytes: Number(match[3]), runStepBytes: Number(match[4]) });
  }
  return rows;
}

/** The text between the markers, or undefined when a marker is missing. */
export function tableIn(text: string): string | undefined {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  return text.slice(start + TABLE_START.length, end).trim();
}

export function replaceTable(text: string, table: string, what: string): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`${what} has no ${TABLE_START} … ${TABLE_END} markers`);
  return `${text.slice(0, start + TABLE_START.length)}\n${table}\n${text.slice(end)}`;
}

/** [start, end) of the CHANGELOG section `## [version]` up to the next `## ` heading. */
export function changelogEntry(text: string, version: string): [number, number] | undefined {
  const heading = new RegExp(`^## \\[${version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\].*$`, 'm').exec(text);
  if (!heading) return undefined;
  const start = heading.index;
  const next = /^## /m.exec(text.slice(start + heading[0].length));
  return [start, next ? start + heading[0].length + next.index : text.length];
}

export function replaceChangelogTable(text: string, version: string, table: string): string {
  const entry = changelogEntry(text, version);
  if (!entry) throw new Error(`CHANGELOG.md has no entry "## [${version}]" (the version in package.json)`);
  const [start, end] = entry;
  let section = text.slice(start, end);
  // A new version's entry gets the block on first run, at its end.
  if (tableIn(section) === undefined) section = `${section.trimEnd()}\n\n${BUNDLES_HEADING}\n\n${TABLE_START}\n${TABLE_END}\n\n`;
  return text.slice(0, start) + replaceTable(section, table, `CHANGELOG.md's entry for ${version}`) + text.slice(end);
}

/** The heading release-tables gives the block in an entry that has none yet. */
export const BUNDLES_HEADING = '### Bundles';

/** The table of the CHANGELOG entry for `version`, or undefined. */
export function changelogTable(text: string, version: string): string | undefined {
  const entry = changelogEntry(text, version);
  return entry ? tableIn(text.slice(...entry)) : undefined;
}

/** One line per command whose row is missing, extra or different; empty when the table matches. */
export function staleRows(expected: readonly ReleaseRow[], table: string | undefined): string[] {
  if (table === undefined) return ['the release table markers are missing'];
  const found = new Map(parseTable(table).map((row) => [row.command, row]));
  const problems: string[] = [];
  for (const row of expected) {
    const have = found.get(row.command);
    if (!have) problems.push(`${row.command}: no row`);
    else if (have.sha256 !== row.sha256) problems.push(`${row.command}: sha256 ${have.sha256} in the table, ${row.sha256} built`);
    else if (have.bundleBytes !== row.bundleBytes || have.runStepBytes !== row.runStepBytes) {
      problems.push(`${row.command}: sizes ${have.bundleBytes}/${have.runStepBytes} in the table, ${row.bundleBytes}/${row.runStepBytes} built`);
    }
    found.delete(row.command);
  }
  for (const command of found.keys()) problems.push(`${command}: row for a command the build does not have`);
  if (problems.length === 0 && table !== renderTable(expected)) problems.push('the table text differs from what the script writes');
  return problems;
}
