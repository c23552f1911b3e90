import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../../core/errors.ts';
import { exportVariable, record } from '../../core/journal.ts';
import { describeType, ensurePrivateDirectory, ownedByUs, readRegularFile, regauthHome, replaceFileAtomically, writePrivateFile } from '../../core/private-files.ts';
import type { AwsCredentials } from './index.ts';
import type { Env } from '../../core/env.ts';

/**
 * export_credentials: a `[profile <name>]` section written INTO the AWS config the job already
 * uses (AWS_CONFIG_FILE, else ~/.aws/config), beside the user's own profiles, which stay byte for
 * byte; later steps get AWS_PROFILE. The section never holds a key: its `credential_process` is
 * regauth's credential helper (refresh on) or reads regauth's own 0600 file (refresh off). A
 * user's profile may chain from it with `source_profile`.
 */
export const PROFILE_NAME = 'regauth';
export const SECTION_MARKER = '# written by regauth for this job; regauth/logout removes this section';

/** Profile names regauth writes: what every AWS tool reads back unquoted, and never the default profile. */
export function profileNameProblem(name: string): string | undefined {
  if (name === 'default') return '"default" is the profile every AWS tool falls back to and usually the job\'s own; name regauth\'s profile something else (the default is regauth)';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) return `${JSON.stringify(name.slice(0, 80))} is not a profile name regauth writes: 1 to 64 of A-Z a-z 0-9 _ . - starting with a letter or digit`;
  return undefined;
}

/** The config file the AWS CLI and SDKs read in this job. */
export function awsConfigFile(env: Env): string {
  const configured = env.AWS_CONFIG_FILE?.trim();
  const home = env.HOME || homedir();
  if (!configured) return join(home, '.aws', 'config');
  // The AWS CLI and SDKs expand a leading ~ themselves; so does regauth, to write the same file.
  return configured === '~' || configured.startsWith('~/') ? join(home, configured.slice(1)) : configured;
}

interface Range {
  start: number;
  /** End of the section's own lines (blank lines before the next header excluded). */
  end: number;
}

const HEADER = /^[ \t]*\[([^\]\n]*)\][ \t]*(?:[#;][^\n]*)?$/;

/** Where `[profile <name>]` sits in `text` (pure). */
export function findProfileSection(text: string, name: string): Range | undefined {
  const lines = text.split('\n');
  let offset = 0;
  let found: Range | undefined;
  let lastContentEnd = 0;
  for (const [index, line] of lines.entries()) {
    const lineEnd = offset + line.length + (index < lines.length - 1 ? 1 : 0);
    const header = HEADER.exec(line);
    if (header) {
      if (found) {
        found.end = lastContentEnd;
        return found;
      }
      const words = (header[1] ?? '').trim().split(/\s+/);
      if (words.length === 2 && words[0] === 'profile' && words[1] === name) found = { start: offset, end: lineEnd };
    }
    if (line.trim() !== '') lastContentEnd = lineEnd;
    offset = lineEnd;
  }
  if (found) found.end = Math.max(found.start, lastContentEnd);
  return found;
}

/** The section regauth writes (pure); `settings` are `key = value` lines. */
export function profileSection(name: string, settings: Readonly<Record<string, string>>): string {
  return `[profile ${name}]\n${SECTION_MARKER}\n${Object.entries(settings)
    .map(([key, value]) => `${key} = ${value}\n`)
    .join('')}`;
}

export interface Placed {
  text: string;
  /** The user's section that was replaced, byte for byte. */
  previous?: string;
  /** What was put before the section when it was appended. */
  separator: string;
}

/** `text` with `section` in place of the profile of that name, or appended (pure). */
export function placeSection(text: string, name: string, section: string): Placed {
  const range = findProfileSection(text, name);
  if (range) {
    const previous = text.slice(range.start, range.end);
    const tail = text.slice(range.end);
    return { text: text.slice(0, range.start) + section + (tail !== '' && !section.endsWith('\n') ? '\n' : '') + tail, previous, separator: '' };
  }
  const separator = text === '' ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  return { text: text + separator + section, separator };
}

export type Removal = { text: string; outcome: 'removed' | 'restored' } | { text: string; outcome: 'absent' | 'not-ours' };

/** `text` without the section regauth wrote (the user's own put back where it was), pure. */
export function removeSection(text: string, name: string, separator: string, previous: string | undefined): Removal {
  const range = findProfileSection(text, name);
  if (!range) return { text, outcome: 'absent' };
  const section = text.slice(range.start, range.end);
  if (!section.split('\n').includes(SECTION_MARKER)) return { text, outcome: 'not-ours' };
  if (previous !== undefined) return { text: text.slice(0, range.start) + previous + text.slice(range.end), outcome: 'restored' };
  const before = text.slice(0, range.start);
  const start = separator !== '' && before.endsWith(separator) ? range.start - separator.length : range.start;
  let end = range.end;
  if (start === range.start && text.slice(end).startsWith('\n')) end += 1;
  return { text: text.slice(0, start) + text.slice(end), outcome: 'removed' };
}

/** A file the job's user owns, regular, not a link: what regauth will rewrite. Missing: undefined. */
async function readUserFile(file: string): Promise<{ text: string; mode: number } | undefined> {
  const read = await readRegularFile(file);
  if (read.kind === 'missing') return undefined;
  if (read.kind === 'wrong-type') throw new UserError(`${file} is ${read.what}; regauth writes the AWS profile only into a regular file of the job's own user: replace it with one or set AWS_CONFIG_FILE`);
  if (read.kind === 'unreadable') throw new UserError(`${file} cannot be read (${read.code}); regauth leaves it alone: fix its permissions or set AWS_CONFIG_FILE`);
  if (!ownedByUs(read.stat)) throw new UserError(`${file} belongs to another user (uid ${read.stat.uid}); regauth will not rewrite it: set AWS_CONFIG_FILE to a file of the job's own`);
  return { text: read.text, mode: read.stat.mode & 0o7777 };
}

/** Checked before anything runs: a config file regauth would refuse fails the step at once. */
export async function assertAwsConfigWritable(env: Env): Promise<void> {
  await readUserFile(awsConfigFile(env));
}

export interface ExportedProfile {
  name: string;
  file: string;
  /** Set when a profile of that name was there: whose it was. */
  replaced?: 'user' | 'regauth';
}

/**
 * Writes `[profile <name>]` into the job's AWS config, on record (with the section it replaces)
 * first, then exports AWS_PROFILE through the journal.
 */
export async function exportProfile(env: Env, name: string, settings: Readonly<Record<string, string>>): Promise<ExportedProfile> {
  const file = awsConfigFile(env);
  const existing = await readUserFile(file);
  const section = profileSection(name, settings);
  const placed = placeSection(existing?.text ?? '', name, section);
  const replaced = placed.previous === undefined ? undefined : placed.previous.split('\n').includes(SECTION_MARKER) ? 'regauth' : 'user';
  await record(env, {
    kind: 'aws-profile',
    file,
    name,
    separator: placed.separator,
    ...(placed.previous !== undefined && replaced === 'user' ? { previous: placed.previous } : {}),
    createdFile: existing === undefined,
  });
  if (existing === undefined) await fs.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const mode = existing?.mode ?? 0o600;
  if (existing) {
    // Checked again right before the rename: a link planted since the read is refused, not replaced.
    const stat = await fs.lstat(file).catch(() => undefined);
    if (stat && (!stat.isFile() || !ownedByUs(stat))) throw new UserError(`${file} is ${describeType(stat)} now; regauth leaves it alone`);
  }
  await replaceFileAtomically(file, placed.text, mode);
  await exportVariable(env, 'AWS_PROFILE', name);
  return { name, file, ...(replaced ? { replaced } : {}) };
}

/** Where refresh: false keeps the keys credential_process reads: ~/.regauth/aws/<profile>.json (0600). */
export function staticCredentialsPath(env: Env, name: string): string {
  return join(regauthHome(env), 'aws', `${name}.json`);
}

/** Quotes a program path for credential_process (split like a shell by the CLI and the SDKs). */
export function processArgument(path: string): string {
  if (/["\\$`]/.test(path)) throw new UserError(`${path} cannot be named in an AWS credential_process (it holds a quote, backslash, $ or backtick); use a HOME without them`);
  return /\s/.test(path) ? `"${path}"` : path;
}

/** refresh: false — the keys in regauth's own 0600 file (on record first), read by `cat`. */
export async function writeStaticCredentials(env: Env, name: string, credentials: Required<AwsCredentials>): Promise<string> {
  const path = staticCredentialsPath(env, name);
  await record(env, { kind: 'file', path });
  await ensurePrivateDirectory(regauthHome(env));
  await ensurePrivateDirectory(dirname(path));
  await writePrivateFile(
    path,
    `${JSON.stringify({ Version: 1, AccessKeyId: credentials.accessKeyId, SecretAccessKey: credentials.secretAccessKey, SessionToken: credentials.sessionToken, Expiration: credentials.expiration.toISOString() })}\n`,
  );
  return `/bin/cat ${processArgument(path)}`;
}

/** Undoes an aws-profile record: the section regauth wrote goes, the user's own comes back. */
export async function unexportProfile(file: string, name: string, separator: string, previous: string | undefined, createdFile: boolean): Promise<Removal['outcome']> {
  const existing = await readUserFile(file);
  if (!existing) return 'absent';
  const removal = removeSection(existing.text, name, separator, previous);
  if (removal.outcome === 'absent' || removal.outcome === 'not-ours') return removal.outcome;
  if (createdFile && removal.text.trim() === '') await fs.unlink(file);
  else await replaceFileAtomically(file, removal.text, existing.mode);
  return removal.outcome;
}
