import { closeSync, constants, fstatSync, fsyncSync, openSync, promises as fs, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from './lock-file.ts';
import { ensurePrivateDirectory, ownedByUs, readRegularFile, replaceFileAtomically } from './private-files.ts';
import { shellQuote } from './shell-quote.ts';

/**
 * The journal: every change regauth makes outside its own cache, each with the value it replaced,
 * appended to ONE 0600 file (`$HOME/.regauth/journal`, a 0700 directory of regauth's own) BEFORE
 * the change is made. `regauth/logout` replays it backwards and nothing else decides what to undo,
 * so a step killed between the record and the change leaves nothing logout cannot see.
 *
 * One record per thing changed: a second change to the same thing (a second login to one host,
 * a second export of one variable) is not recorded again, because what logout gives back is the
 * value from before regauth's FIRST change.
 */
export type JournalEntry =
  /** `auths[key]` in `configDir`/config.json changed (by regauth, or by docker login at its request). */
  | { kind: 'docker-auth'; configDir: string; key: string; previous?: Record<string, string> }
  /** docker login stored a credential for `key` (maybe in a credential store): undone by docker logout. */
  | { kind: 'docker-login'; configDir: string; key: string }
  /** `credHelpers[key]` set to `value`. */
  | { kind: 'cred-helper'; configDir: string; key: string; value: string; previous?: string }
  /** A file regauth writes (secrets or not); `host` ties it to one registry for a targeted logout. */
  | { kind: 'file'; path: string; host?: string }
  /** A directory regauth made and owns whole. */
  | { kind: 'dir'; path: string }
  /** A variable exported through $BASH_ENV; `previous` is the step's value before regauth's first export. */
  | { kind: 'export'; name: string; previous?: string }
  /** A directory put in front of PATH through $BASH_ENV. */
  | { kind: 'path-add'; dir: string }
  /** The credential helper program installed on PATH. */
  | { kind: 'program'; path: string; route: 'user-path' | 'system-path' | 'sudo' | 'bash-env' }
  /** A `[profile <name>]` section regauth wrote into the job's AWS config; `previous`: the section it replaced. */
  | { kind: 'aws-profile'; file: string; name: string; separator: string; previous?: string; createdFile: boolean };

export type JournalKind = JournalEntry['kind'];

/**
 * A record as stored: the entry and the job that made it. On a persistent machine a job may end
 * without logout; the next job's records stand beside its leftovers instead of being mistaken
 * for them (a value "from before regauth" is always this job's).
 */
export type Recorded = JournalEntry & { job?: string };

/** This job's id: CircleCI's workflow job id, else the build number. */
export function jobId(env: JournalEnv): string {
  const id = (env.CIRCLE_WORKFLOW_JOB_ID || env.CIRCLE_BUILD_NUM || '').trim();
  return JOB_ID.test(id) ? id : '';
}
export const JOB_ID = /^[A-Za-z0-9-]{1,64}$/;

const sameRecord = (a: Recorded, b: Recorded): boolean => identity(a) === identity(b) && (a.job ?? '') === (b.job ?? '');

/** The only variables regauth exports; a journal naming any other is not believed. */
export const EXPORTABLE = [
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE',
  'GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES',
  'CLOUDSDK_CONFIG',
] as const;
export type ExportableName = (typeof EXPORTABLE)[number];

type JournalEnv = Readonly<Record<string, string | undefined>>;

export function journalDir(env: JournalEnv): string {
  return join(env.HOME || homedir(), '.regauth');
}

export function journalPath(env: JournalEnv): string {
  return join(journalDir(env), 'journal');
}

/** What makes two records the same thing changed. */
export function identity(entry: JournalEntry): string {
  switch (entry.kind) {
    case 'docker-auth':
    case 'docker-login':
    case 'cred-helper':
      return `${entry.kind}\0${entry.configDir}\0${entry.key}`;
    case 'file':
    case 'dir':
      return `${entry.kind}\0${entry.path}`;
    case 'export':
      return `export\0${entry.name}`;
    case 'path-add':
      return `path-add\0${entry.dir}`;
    case 'program':
      return `program\0${entry.path}`;
    case 'aws-profile':
      return `aws-profile\0${entry.file}\0${entry.name}`;
  }
}

const isString = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 4096 && !value.includes('\0');
const optionalString = (value: unknown): value is string | undefined => value === undefined || (typeof value === 'string' && value.length <= 65536);
const isStringRecord = (value: unknown): value is Record<string, string> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
const ROUTES = ['user-path', 'system-path', 'sudo', 'bash-env'];

/** One line of the journal, checked for shape only (what it names is checked by trust()). */
export function parseEntry(line: string): JournalEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const e = raw as Record<string, unknown>;
  switch (e.kind) {
    case 'docker-auth':
      if (!isString(e.configDir) || !isString(e.key) || !(e.previous === undefined || isStringRecord(e.previous))) return undefined;
      return { kind: 'docker-auth', configDir: e.configDir, key: e.key, ...(e.previous ? { previous: e.previous } : {}) };
    case 'docker-login':
      if (!isString(e.configDir) || !isString(e.key)) return undefined;
      return { kind: 'docker-login', configDir: e.configDir, key: e.key };
    case 'cred-helper':
      if (!isString(e.configDir) || !isString(e.key) || typeof e.value !== 'string' || !optionalString(e.previous)) return undefined;
      return { kind: 'cred-helper', configDir: e.configDir, key: e.key, value: e.value, ...(e.previous !== undefined ? { previous: e.previous } : {}) };
    case 'file':
      if (!isString(e.path) || !(e.host === undefined || isString(e.host))) return undefined;
      return { kind: 'file', path: e.path, ...(e.host ? { host: e.host } : {}) };
    case 'dir':
      return isString(e.path) ? { kind: 'dir', path: e.path } : undefined;
    case 'export':
      if (!isString(e.name) || !optionalString(e.previous)) return undefined;
      return { kind: 'export', name: e.name, ...(e.previous !== undefined ? { previous: e.previous } : {}) };
    case 'path-add':
      return isString(e.dir) ? { kind: 'path-add', dir: e.dir } : undefined;
    case 'program':
      if (!isString(e.path) || typeof e.route !== 'string' || !ROUTES.includes(e.route)) return undefined;
      return { kind: 'program', path: e.path, route: e.route as 'user-path' };
    case 'aws-profile':
      if (!isString(e.file) || !isString(e.name) || typeof e.separator !== 'string' || !/^\n{0,2}$/.test(e.separator) || !optionalString(e.previous) || typeof e.createdFile !== 'boolean') return undefined;
      return { kind: 'aws-profile', file: e.file, name: e.name, separator: e.separator, ...(e.previous !== undefined ? { previous: e.previous } : {}), createdFile: e.createdFile };
    default:
      return undefined;
  }
}

/** A stored line: the entry's shape checked, and the job that made it (dropped when malformed). */
export function parseRecorded(line: string): Recorded | undefined {
  const entry = parseEntry(line);
  if (!entry) return undefined;
  let job: unknown;
  try {
    job = (JSON.parse(line) as { job?: unknown }).job;
  } catch {
    job = undefined;
  }
  return typeof job === 'string' && JOB_ID.test(job) ? { ...entry, job } : entry;
}

export interface JournalRead {
  entries: Recorded[];
  /** Lines that were not a record regauth writes (one line each for the user). */
  malformed: number;
}

/** Read without following a link or blocking on a FIFO; a journal of another user's is not read. */
export async function readJournal(env: JournalEnv): Promise<JournalRead> {
  const read = await readRegularFile(journalPath(env));
  if (read.kind !== 'text' || !ownedByUs(read.stat)) return { entries: [], malformed: 0 };
  const entries: Recorded[] = [];
  let malformed = 0;
  for (const line of read.text.split('\n')) {
    if (line.trim() === '') continue;
    const entry = parseRecorded(line);
    if (entry) entries.push(entry);
    else malformed += 1;
  }
  return { entries, malformed };
}

/**
 * Puts `entry` on record unless the same thing is on record already. Resolves once the line is
 * on disk (fsync), so the change the caller makes next is never ahead of its record. Returns
 * whether a record was added (a caller whose change then fails may `retract` it).
 */
export async function record(env: JournalEnv, entry: JournalEntry): Promise<boolean> {
  return (await recordAll(env, [entry]))[0] ?? false;
}

/**
 * `record` for changes made together (one lock, one read, one fsync): each entry's answer in
 * order. Records may run ahead of their changes, never behind them.
 */
export async function recordAll(env: JournalEnv, batch: readonly JournalEntry[]): Promise<boolean[]> {
  await ensurePrivateDirectory(journalDir(env));
  return withJournalLock(env, async () => {
    const { entries } = await readJournal(env);
    const job = jobId(env);
    const added: Recorded[] = [];
    const answers = batch.map((entry) => {
      const recorded: Recorded = job ? { ...entry, job } : entry;
      if ([...entries, ...added].some((known) => sameRecord(known, recorded))) return false;
      added.push(recorded);
      return true;
    });
    if (added.length > 0) await append(env, added);
    return answers;
  });
}

/** Steps of one job may run at once (background steps): reads, appends and rewrites take turns. */
function withJournalLock<T>(env: JournalEnv, work: () => Promise<T>): Promise<T> {
  return withFileLock(`${journalPath(env)}.lock`, work);
}

async function append(env: JournalEnv, added: readonly Recorded[]): Promise<void> {
  // O_NONBLOCK: a FIFO put where the journal belongs fails at once (ENXIO) instead of hanging the step.
  const fd = openSync(journalPath(env), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || !ownedByUs(stat)) throw new Error(`${journalPath(env)} is not a file of regauth's own`);
    writeFileSync(fd, added.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces the journal with `entries` (logout keeps what it did not undo); none left: the file goes. */
export async function rewriteJournal(env: JournalEnv, entries: readonly Recorded[]): Promise<void> {
  const path = journalPath(env);
  // No directory of regauth's own: no journal to rewrite (and none is created, nor a lock through a link).
  const dir = await fs.lstat(journalDir(env)).catch(() => undefined);
  if (!dir?.isDirectory() || !ownedByUs(dir)) return;
  await withJournalLock(env, () => replaceJournal(path, env, entries));
}

async function replaceJournal(path: string, env: JournalEnv, entries: readonly Recorded[]): Promise<void> {
  if (entries.length === 0) {
    const stat = await fs.lstat(path).catch(() => undefined);
    if (stat?.isFile() && ownedByUs(stat)) await fs.unlink(path);
    return;
  }
  await ensurePrivateDirectory(journalDir(env));
  await replaceFileAtomically(path, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
}

/** Takes back records whose change did not happen (a docker login that failed). */
export async function retract(env: JournalEnv, drop: readonly JournalEntry[]): Promise<void> {
  const job = jobId(env);
  const gone: Recorded[] = drop.map((entry) => (job ? { ...entry, job } : entry));
  await withJournalLock(env, async () => {
    const { entries } = await readJournal(env);
    await replaceJournal(journalPath(env), env, entries.filter((entry) => !gone.some((g) => sameRecord(entry, g))));
  });
}

/**
 * THE way regauth exports a variable to later steps: on record with the step's current value
 * (or none) first, then `export NAME='value'` appended to $BASH_ENV. Only names regauth exports
 * and values that are paths, names or switches come here, never a secret.
 */
export async function exportVariable(env: JournalEnv, name: ExportableName, value: string): Promise<void> {
  await record(env, { kind: 'export', name, ...(env[name] !== undefined ? { previous: env[name] } : {}) });
  await appendBashEnv(env, [`export ${name}=${shellQuote(value)}`]);
}

/** A directory in front of PATH for later bash steps, on record first. */
export async function prependPath(env: JournalEnv, dir: string): Promise<void> {
  if (!(await record(env, { kind: 'path-add', dir }))) return;
  await appendBashEnv(env, [`export PATH=${shellQuote(dir)}:"$PATH"`]);
}

/** The lines logout appends to give a variable back: its value before regauth, or unset. */
export function restoreLine(entry: Extract<JournalEntry, { kind: 'export' }>): string {
  return entry.previous === undefined ? `unset ${entry.name}` : `export ${entry.name}=${shellQuote(entry.previous)}`;
}

/** Undoes a path-add: the directory leaves PATH wherever later steps put it. */
export function pathRemovalLine(dir: string): string {
  // Unquoted on purpose: an assignment does not split, and the quoted pattern matches literally.
  return `PATH=":$PATH:"; PATH=\${PATH//:${shellQuote(dir)}:/:}; PATH=\${PATH#:}; PATH=\${PATH%:}`;
}

export async function appendBashEnv(env: JournalEnv, lines: readonly string[]): Promise<void> {
  if (env.BASH_ENV && lines.length > 0) await fs.appendFile(env.BASH_ENV, `${lines.join('\n')}\n`);
}
