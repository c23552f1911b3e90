/**
 * Runs every vitest suite and closes with the line CI reads: `N passed, N failed[, N skipped]`.
 * vitest's own summary is not in that form, so the counts come from its JSON report.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

interface JsonReport {
  testResults?: { name: string; startTime?: number; endTime?: number; assertionResults?: { fullName: string; duration?: number | null }[] }[];
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
  success: boolean;
}

const reportDir = mkdtempSync(join(tmpdir(), 'regauth-tests-'));
const reportFile = join(reportDir, 'report.json');
const started = Date.now();
const result = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...process.argv.slice(2)], { stdio: 'inherit' });
let report: JsonReport | undefined;
try {
  report = JSON.parse(readFileSync(reportFile, 'utf8')) as JsonReport;
} catch {
  report = undefined;
}
rmSync(reportDir, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (!report) {
  console.log(`vitest wrote no report (exit ${result.status ?? 'signal'})`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const skipped = report.numPendingTests + report.numTodoTests;
// Where the time goes, for whoever makes the suite faster: the slowest files and tests.
const files = (report.testResults ?? []).map((file) => ({ name: relative(process.cwd(), file.name), ms: (file.endTime ?? 0) - (file.startTime ?? 0) }));
const tests = (report.testResults ?? []).flatMap((file) => (file.assertionResults ?? []).map((test) => ({ name: test.fullName, ms: test.duration ?? 0 })));
const slowest = (rows: { name: string; ms: number }[]): string[] => rows.sort((a, b) => b.ms - a.ms).slice(0, 10).map((row) => `  ${(row.ms / 1000).toFixed(1).padStart(6)} s  ${row.name.slice(0, 140)}`);
if (files.length > 0) console.log(['slowest files:', ...slowest(files), 'slowest tests:', ...slowest(tests)].join('\n'));
console.log(`test run took ${seconds} s`);
// vitest can fail with every test passed: the global teardown's check that the run left the
// machine as it found it, or an error outside any test. That counts as one failure.
const outsideTests = result.status !== 0 && report.numFailedTests === 0 ? 1 : 0;
if (outsideTests) console.log(`vitest exited ${result.status ?? 'on a signal'} with no failed test: a failure outside the tests (see above), counted as one`);
console.log(`${report.numPassedTests} passed, ${report.numFailedTests + outsideTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(result.status === 0 && report.numFailedTests === 0 && report.numTotalTests > 0 ? 0 : 1);
