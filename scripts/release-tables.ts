/**
 * npm run release-tables [-- --check]: builds the orb in memory and writes the per-command table
 * (bundle sha256, bundle bytes and the bytes its step adds to a compiled config) between the release-table markers of README.md and
 * of the CHANGELOG entry for package.json's version. --check only reports stale rows (exit 1).
 * Run it after any change to what a command bundles; test/tooling/lib/release-table.test.ts fails until then.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRelease, stepBytes, type Release } from './build.ts';
import { changelogTable, renderTable, replaceChangelogTable, replaceTable, staleRows, tableIn, type ReleaseRow } from './lib/release-table.ts';
import { decodeRunStep, type RunStep } from './lib/payload.ts';
import { parse } from 'yaml';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');

/** The rows of a release, from its packed orb: what a reviewer's verify sees. */
export function releaseRows(release: Release): ReleaseRow[] {
  const orb = parse(release.orbYaml) as { commands: Record<string, { steps: { run?: RunStep }[] }> };
  const sizes = stepBytes(orb);
  return release.commands.map(({ command }) => {
    const run = orb.commands[command]?.steps.find((step) => step.run?.environment)?.run;
    const decoded = run && decodeRunStep(run);
    if (!decoded) throw new Error(`the run step of ${command} carries no bundle`);
    return { command, sha256: decoded.sha256, bundleBytes: decoded.bytes, runStepBytes: sizes.get(command) ?? 0 };
  });
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const release = await buildRelease();
  const rows = releaseRows(release);
  const table = renderTable(rows);
  const readmeFile = join(root, 'README.md');
  const changelogFile = join(root, 'CHANGELOG.md');
  const readme = readFileSync(readmeFile, 'utf8');
  const changelog = readFileSync(changelogFile, 'utf8');
  const stale = [
    ...staleRows(rows, tableIn(readme)).map((line) => `README.md: ${line}`),
    ...staleRows(rows, changelogTable(changelog, release.version)).map((line) => `CHANGELOG.md [${release.version}]: ${line}`),
  ];
  if (check) {
    for (const line of stale) console.log(line);
    console.log(stale.length === 0 ? 'release tables match the build' : 'release tables are stale: run npm run release-tables');
    return stale.length === 0 ? 0 : 1;
  }
  writeFileSync(readmeFile, replaceTable(readme, table, 'README.md'));
  writeFileSync(changelogFile, replaceChangelogTable(changelog, release.version, table));
  for (const line of stale) console.log(`updated ${line}`);
  console.log(`release tables: ${rows.length} commands in README.md and CHANGELOG.md [${release.version}]`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
}
