/**
 * Collects the reliability suites' scenario results and writes docs/reliability.md. Each suite
 * file writes its own fragment (test/reliability/results/<suite>.json, committed) and then
 * regenerates the document from every fragment, so suites may run in separate workers and a
 * partial run still yields the whole table. Everything is deterministic except the times,
 * which are rounded to 0.1 s.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type Outcome = 'pass' | 'fail' | 'skipped';

export interface ScenarioRow {
  scenario: string;
  outcome: Outcome;
  /** Attempts where they mean something (requests counted at a proxy or the local AWS). */
  attempts?: number;
  /** Seconds, rounded to 0.1; absent for skipped rows. */
  seconds?: number;
  /** Why a row was skipped, or what a row proves in a word. */
  note?: string;
  /** What this scenario planted, tried, injected and found. */
  tally?: Tally;
}

export interface Tally {
  secretsPlanted: number;
  leaksFound: number;
  hostileInputs: number;
  executionsObserved: number;
  faultsInjected: number;
  faultsSurvived: number;
  entriesLost: number;
  invocationsRecorded: number;
}

export interface SuiteResults {
  suite: string;
  title: string;
  /** Position of the suite in the document. */
  order: number;
  rows: ScenarioRow[];
}

/** The sum of the rows' tallies. Pure. */
export function suiteTally(rows: readonly ScenarioRow[]): Tally {
  const total = emptyTally();
  for (const row of rows) if (row.tally) addTally(total, row.tally);
  return total;
}

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const RESULTS_DIR = join(REPO_ROOT, 'test', 'reliability', 'results');
export const REPORT_FILE = join(REPO_ROOT, 'docs', 'reliability.md');

export function emptyTally(): Tally {
  return { secretsPlanted: 0, leaksFound: 0, hostileInputs: 0, executionsObserved: 0, faultsInjected: 0, faultsSurvived: 0, entriesLost: 0, invocationsRecorded: 0 };
}

export function addTally(into: Tally, more: Partial<Tally>): void {
  for (const key of Object.keys(more) as (keyof Tally)[]) into[key] += more[key] ?? 0;
}

export interface ScenarioHandle {
  /** Attempts counted for this scenario. */
  attempts(count: number): void;
  note(text: string): void;
  tally(more: Partial<Tally>): void;
}

const NOT_RUN = 'not run';

/** One suite's rows and counts; `scenario` times a body and records pass or fail. */
export class SuiteRecorder {
  readonly rows: ScenarioRow[] = [];

  constructor(
    readonly suite: string,
    readonly title: string,
    readonly order: number,
  ) {}

  /** Holds a row's place in the table (at collection time), so the order is the table's, not the run's. */
  reserve(name: string): void {
    this.row(name);
  }

  private row(name: string): ScenarioRow {
    let row = this.rows.find((candidate) => candidate.scenario === name);
    if (!row) {
      row = { scenario: name, outcome: 'skipped', note: NOT_RUN };
      this.rows.push(row);
    }
    return row;
  }

  async scenario<T>(name: string, body: (handle: ScenarioHandle) => Promise<T>): Promise<T> {
    const row = this.row(name);
    row.outcome = 'fail';
    delete row.note;
    const pending = emptyTally();
    const handle: ScenarioHandle = {
      attempts: (count) => void (row.attempts = count),
      note: (text) => void (row.note = text),
      tally: (more) => addTally(pending, more),
    };
    const started = performance.now();
    try {
      const value = await body(handle);
      row.outcome = 'pass';
      return value;
    } finally {
      row.seconds = roundSeconds((performance.now() - started) / 1000);
      // A fault counts as survived only when the scenario that injected it passed.
      if (row.outcome !== 'pass') pending.faultsSurvived = 0;
      row.tally = pending;
    }
  }

  skip(name: string, reason: string): void {
    const row = this.row(name);
    row.outcome = 'skipped';
    row.note = reason;
  }

  results(): SuiteResults {
    return { suite: this.suite, title: this.title, order: this.order, rows: this.rows };
  }

  /**
   * Writes this suite's fragment, then regenerates the document from all fragments. Rows this
   * run did not reach (a filtered run) keep their result from the previous fragment.
   */
  flush(resultsDir = RESULTS_DIR, reportFile = REPORT_FILE): void {
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${this.suite}.json`);
    const previous = readFragment(file);
    const rows = this.rows.map((row) => (row.note === NOT_RUN ? (previous?.rows.find((old) => old.scenario === row.scenario) ?? row) : row));
    writeAtomically(file, `${JSON.stringify({ ...this.results(), rows }, null, 2)}\n`);
    writeReport(resultsDir, reportFile);
  }
}

export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

function readFragment(file: string): SuiteResults | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SuiteResults;
  } catch {
    return undefined;
  }
}

export function readFragments(resultsDir = RESULTS_DIR): SuiteResults[] {
  let names: string[];
  try {
    names = readdirSync(resultsDir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  return names
    .map((name) => JSON.parse(readFileSync(join(resultsDir, name), 'utf8')) as SuiteResults)
    .sort((a, b) => a.order - b.order || a.suite.localeCompare(b.suite));
}

export function writeReport(resultsDir = RESULTS_DIR, reportFile = REPORT_FILE): void {
  writeAtomically(reportFile, renderReport(readFragments(resultsDir)));
}

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The whole document (pure). */
export function renderReport(suites: readonly SuiteResults[]): string {
  const total = emptyTally();
  let seconds = 0;
  const outcomes: Record<Outcome, number> = { pass: 0, fail: 0, skipped: 0 };
  for (const suite of suites) {
    addTally(total, suiteTally(suite.rows));
    for (const row of suite.rows) {
      outcomes[row.outcome] += 1;
      seconds += row.seconds ?? 0;
    }
  }
  const lines: string[] = [
    '# regauth reliability: secrets, hostile input, faults',
    '',
    '<!-- Generated by the suites in test/reliability (npx vitest run test/reliability); do not edit. -->',
    '',
    'Every scenario runs the packed orb (`dist/orb.yml`) through the step runner, the way CircleCI',
    'runs a step, against a real docker CLI, dockerd, registry and the local AWS stack. Secrets are',
    'canary values; they are searched for in stdout and stderr, in the argv of every `docker` and',
    '`circleci` invocation (recorded by shims first on PATH), in every command line sampled from',
    '/proc while the step runs, in `$BASH_ENV`, and in every file under the job\'s HOME, its',
    'DOCKER_CONFIG and the /tmp entries the step created. Only `config.json` and an exported AWS',
    'profile may hold one, and then only as a 0600 file in a 0700 directory.',
    '',
    '## Totals',
    '',
    '| measure | count |',
    '|---|---:|',
    `| scenarios: passed / failed / skipped | ${outcomes.pass} / ${outcomes.fail} / ${outcomes.skipped} |`,
    `| secrets planted (canary values, summed over scenarios) | ${total.secretsPlanted} |`,
    `| leaks found (output, argv, /proc, $BASH_ENV, files, modes) | ${total.leaksFound} |`,
    `| hostile inputs tried | ${total.hostileInputs} |`,
    `| executions observed (canary file created) | ${total.executionsObserved} |`,
    `| faults injected | ${total.faultsInjected} |`,
    `| faults survived (succeeded in budget, or one clear line and nothing lost) | ${total.faultsSurvived} |`,
    `| docker config entries lost | ${total.entriesLost} |`,
    `| docker and circleci invocations recorded | ${total.invocationsRecorded} |`,
    `| time in scenarios (s) | ${roundSeconds(seconds).toFixed(1)} |`,
    '',
  ];
  for (const suite of suites) {
    lines.push(`## ${suite.title}`, '', '| scenario | outcome | attempts | time (s) | note |', '|---|---|---:|---:|---|');
    for (const row of suite.rows) {
      lines.push(
        `| ${cell(row.scenario)} | ${row.outcome} | ${row.attempts ?? ''} | ${row.seconds === undefined ? '' : row.seconds.toFixed(1)} | ${cell(row.note ?? '')} |`,
      );
    }
    const t = suiteTally(suite.rows);
    lines.push(
      '',
      `Secrets planted ${t.secretsPlanted}, leaks ${t.leaksFound}; hostile inputs ${t.hostileInputs}, executions ${t.executionsObserved}; ` +
        `faults injected ${t.faultsInjected}, survived ${t.faultsSurvived}; entries lost ${t.entriesLost}.`,
      '',
    );
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
