import { promises as fs } from 'node:fs';
import { basename, normalize } from 'node:path';
import { awsConfigFile, profileNameProblem, unexportProfile } from '../clouds/aws/profile.ts';
import { appendBashEnv, EXPORTABLE, jobId, pathRemovalLine, readJournal, restoreLine, rewriteJournal, type JournalEntry, type Recorded } from '../core/journal.ts';
import { remote } from '../core/output.ts';
import { isInside, ownedByUs, regauthHome, removeOwnedFile } from '../core/private-files.ts';
import type { RunProcess } from '../core/process.ts';
import { dockerConfigDir, restoreAuthEntry, restoreCredHelper } from '../docker/config.ts';
import { assertDockerAvailable } from '../docker/login.ts';
import { dockerLogoutKey } from '../docker/logout.ts';
import type { Env } from '../core/env.ts';
import { parseRegistryHost, type RegistryTarget } from '../registry/host.ts';
import { HELPER_NAME } from './helper-script.ts';
import { helperDir } from './files.ts';
import { fenceOff } from './fence.ts';
import { releaseSharedUser, uninstallHelper } from './install.ts';

/** What logout did, in words the command prints (no shell). */
export interface Undone {
  /** docker logout ran for these keys. */
  loggedOut: string[];
  /** The job's own auths entry given back. */
  restoredAuth: string[];
  /** credHelpers entries regauth set that are gone (or the user's own is back). */
  helperHosts: string[];
  restoredHelper: string[];
  removed: string[];
  kept: string[];
  /** Variables: back to the value before regauth, or no longer set. */
  variables: { name: string; restored: boolean }[];
  pathRemoved: string[];
  profiles: { name: string; file: string; outcome: string }[];
  /** Records not believed (each names why). */
  ignored: string[];
  /** Undos that failed; their records stay for the next logout. */
  failed: string[];
  /** Hosts asked for that the journal has nothing about. */
  nothingFor: string[];
}

const PROGRAM_DIRS_OK = (path: string): boolean => basename(path) === HELPER_NAME;

/**
 * Whether a record names only what regauth itself would have changed in THIS job: the journal is
 * a file on disk (a cache, a workspace, another job on a persistent machine may have put it
 * there), so anything else is ignored with a reason, never acted on.
 */
export function distrust(entry: JournalEntry, env: Env): string | undefined {
  const configDir = normalize(dockerConfigDir(env));
  const home = regauthHome(env);
  switch (entry.kind) {
    case 'docker-auth':
    case 'docker-login':
    case 'cred-helper': {
      if (normalize(entry.configDir) !== configDir) return `a record for docker config ${remote(entry.configDir)}, not this job's ${configDir}`;
      const parsed = parseRegistryHost(entry.key);
      if ('error' in parsed || (parsed.configKey !== entry.key && parsed.host !== entry.key)) return `a record for ${remote(entry.key)}, which is not a registry host`;
      return undefined;
    }
    case 'file':
    case 'dir':
      return isInside(home, entry.path) ? undefined : `a record of ${remote(entry.path)}, which is outside ${home}`;
    case 'path-add':
      return isInside(home, entry.dir) ? undefined : `a record that ${remote(entry.dir)} was added to PATH, which is outside ${home}`;
    case 'export':
      return (EXPORTABLE as readonly string[]).includes(entry.name) ? undefined : `a record of a variable ${remote(entry.name)}, which regauth never exports`;
    case 'program':
      return PROGRAM_DIRS_OK(entry.path) ? undefined : `a record of a program ${remote(entry.path)}, which is not ${HELPER_NAME}`;
    case 'aws-profile':
      if (profileNameProblem(entry.name)) return `a record of an AWS profile ${remote(entry.name)}, which is no name regauth writes`;
      return normalize(entry.file) === normalize(awsConfigFile(env)) ? undefined : `a record of an AWS profile in ${remote(entry.file)}, not this job's ${awsConfigFile(env)}`;
  }
}

/** Which records a logout of `targets` undoes: those of these hosts (all when targets is undefined). */
function concerns(entry: JournalEntry, targets: readonly RegistryTarget[] | undefined): boolean {
  if (targets === undefined) return true;
  const named = (key: string | undefined): boolean => key !== undefined && targets.some((t) => t.configKey === key || t.host === key);
  switch (entry.kind) {
    case 'docker-auth':
    case 'docker-login':
    case 'cred-helper':
      return named(entry.key);
    case 'file':
      return named(entry.host);
    default:
      return false;
  }
}

/**
 * regauth/logout: replays the journal backwards. Each record is undone at most once; one whose
 * undo fails stays on record for the next logout; records not believed are dropped with a reason.
 */
export async function undoJournal(env: Env, run: RunProcess, targets: readonly RegistryTarget[] | undefined): Promise<Undone> {
  const done: Undone = { loggedOut: [], restoredAuth: [], helperHosts: [], restoredHelper: [], removed: [], kept: [], variables: [], pathRemoved: [], profiles: [], ignored: [], failed: [], nothingFor: [] };
  const { entries, malformed } = await readJournal(env);
  if (malformed > 0) done.ignored.push(`${malformed} journal line(s) that are no record regauth writes`);
  const keep: Recorded[] = [];
  const chosen: Recorded[] = [];
  const job = jobId(env);
  for (const entry of entries) {
    if (!concerns(entry, targets)) keep.push(entry);
    else {
      // Another job's $BASH_ENV is not this job's: its exports have nothing to give back here.
      const why = (entry.kind === 'export' || entry.kind === 'path-add') && (entry.job ?? '') !== job ? `${describe(entry)}, exported by another job (${entry.job ?? 'unknown'}) that ended without logout` : distrust(entry, env);
      if (why) done.ignored.push(why);
      else chosen.push(entry);
    }
  }
  for (const target of targets ?? []) {
    if (!chosen.some((entry) => concerns(entry, [target]))) done.nothingFor.push(target.host);
  }
  const bashEnvLines: string[] = [];
  for (const entry of [...chosen].reverse()) {
    try {
      await undo(entry, env, run, done, bashEnvLines);
    } catch (error) {
      done.failed.push(`${describe(entry)}: ${error instanceof Error ? error.message : String(error)}`);
      keep.push(entry);
    }
  }
  await appendBashEnv(env, bashEnvLines);
  const order = new Map(entries.map((entry, index) => [entry, index]));
  keep.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  await rewriteJournal(env, keep);
  return done;
}

function describe(entry: JournalEntry): string {
  switch (entry.kind) {
    case 'docker-auth':
    case 'docker-login':
    case 'cred-helper':
      return `${entry.kind} ${entry.key}`;
    case 'file':
    case 'dir':
    case 'program':
      return entry.path;
    case 'export':
      return entry.name;
    case 'path-add':
      return `PATH entry ${entry.dir}`;
    case 'aws-profile':
      return `AWS profile ${entry.name} in ${entry.file}`;
  }
}

async function undo(entry: JournalEntry, env: Env, run: RunProcess, done: Undone, bashEnvLines: string[]): Promise<void> {
  switch (entry.kind) {
    case 'docker-login': {
      const target = parseRegistryHost(entry.key) as RegistryTarget;
      await dockerLogoutKey({ run, env }, entry.configDir, target).catch(assertDockerAvailable);
      done.loggedOut.push(target.host);
      return;
    }
    case 'docker-auth':
      if ((await restoreAuthEntry(entry.configDir, entry.key, entry.previous)) && entry.previous) done.restoredAuth.push(entry.key);
      return;
    case 'cred-helper':
      if (await restoreCredHelper(entry.configDir, entry.key, entry.value, entry.previous)) {
        if (entry.value === 'regauth') done.helperHosts.push(entry.key);
        if (entry.previous !== undefined && entry.previous !== '') done.restoredHelper.push(`${entry.key} (${entry.previous})`);
      }
      return;
    case 'file': {
      const outcome = await removeOwnedFile(regauthHome(env), entry.path);
      if (outcome.removed) done.removed.push(entry.path);
      else if (outcome.why !== 'already gone' && !outcome.why.endsWith('not inside')) done.kept.push(`${entry.path} (${outcome.why})`);
      return;
    }
    case 'dir':
      // The helper's directory: running refreshes fenced off first, so none writes after logout.
      if (normalize(entry.path) === normalize(helperDir(env))) await fenceOff(entry.path);
      if (await removeOwnedDirectory(entry.path)) done.removed.push(entry.path);
      return;
    case 'program': {
      const shared = entry.route === 'system-path' || entry.route === 'sudo';
      if (shared && (await releaseSharedUser(helperDir(env), env))) done.kept.push(`${entry.path} (another job on this machine still uses it)`);
      else if (await uninstallHelper(entry.path, entry.route, run, env)) done.removed.push(entry.path);
      return;
    }
    case 'export':
      bashEnvLines.push(restoreLine(entry));
      done.variables.push({ name: entry.name, restored: entry.previous !== undefined });
      return;
    case 'path-add':
      bashEnvLines.push(pathRemovalLine(entry.dir));
      done.pathRemoved.push(entry.dir);
      return;
    case 'aws-profile': {
      const outcome = await unexportProfile(entry.file, entry.name, entry.separator, entry.previous, entry.createdFile);
      done.profiles.push({ name: entry.name, file: entry.file, outcome });
      return;
    }
  }
}

/** A directory regauth made: removed whole only when it is a real directory of ours (no link followed). */
async function removeOwnedDirectory(path: string): Promise<boolean> {
  const stat = await fs.lstat(path).catch(() => undefined);
  if (!stat || !stat.isDirectory() || !ownedByUs(stat)) return false;
  await fs.rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  return true;
}
