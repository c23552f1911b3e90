import { createHash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { delimiter, isAbsolute, join, relative } from 'node:path';
import type { RunProcess } from '../core/process.ts';
import { isOnPath } from '../core/path-lookup.ts';
import { machineTempDir, sudoBinDir, systemBinDirs } from '../core/places.ts';
import type { Env } from '../core/env.ts';
import { layout, writeAtomic } from './files.ts';
import { HELPER_MARKER, HELPER_NAME } from './helper-script.ts';
import { shellQuote } from '../core/shell-quote.ts';

/**
 * Where docker-credential-regauth goes so that docker finds it in every later step, in any shell,
 * and tools that read docker's config (compose, buildx) find it too: a directory on the job's
 * PATH. In order: a directory of the user's under $HOME on PATH (created when PATH names it and
 * it is missing, as cimg images' ~/bin and ~/.local/bin); for root, a system directory on PATH
 * (docker executors); through passwordless `sudo -n`, /usr/local/bin on PATH (machine
 * executors); last, regauth's own directory added to PATH through $BASH_ENV, which only bash
 * steps read.
 */
export type InstallRoute =
  | { route: 'user-path'; dir: string }
  | { route: 'system-path'; dir: string }
  | { route: 'sudo'; dir: string }
  | { route: 'bash-env'; dir: string };

export interface PathDirFacts {
  dir: string;
  /** undefined: does not exist. */
  kind?: 'directory' | 'link' | 'other';
  ownedByUser: boolean;
  /** Writable by group or others: anyone could swap the helper. */
  sharedWritable: boolean;
  writable: boolean;
}

/** Pure: picks the route from facts about the PATH entries; the system places default to the machine's own. */
export function planInstall(
  facts: readonly PathDirFacts[],
  context: { home: string; isRoot: boolean; sudo: boolean; fallbackDir: string; systemDirs?: readonly string[]; sudoDir?: string },
): InstallRoute {
  const systemDirs = context.systemDirs ?? systemBinDirs({});
  const sudoDir = context.sudoDir ?? sudoBinDir({});
  const underHome = (dir: string): boolean => {
    const rel = relative(context.home, dir);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const own = (f: PathDirFacts): boolean => f.kind === 'directory' && f.ownedByUser && f.writable && !f.sharedWritable;
  const home = facts.find((f) => underHome(f.dir) && (own(f) || f.kind === undefined));
  if (home) return { route: 'user-path', dir: home.dir };
  if (context.isRoot) {
    const system = systemDirs.map((dir) => facts.find((f) => f.dir === dir && own(f))).find(Boolean);
    if (system) return { route: 'system-path', dir: system.dir };
  }
  if (context.sudo && facts.some((f) => f.dir === sudoDir && f.kind === 'directory')) return { route: 'sudo', dir: sudoDir };
  return { route: 'bash-env', dir: context.fallbackDir };
}

export async function pathDirFacts(path: string | undefined): Promise<PathDirFacts[]> {
  const uid = process.getuid?.() ?? -1;
  const dirs = [...new Set((path ?? '').split(delimiter).filter((dir) => isAbsolute(dir)))];
  // Looked at all at once (PATH order is kept): a login waits for the slowest, not the sum.
  return Promise.all(
    dirs.map(async (dir): Promise<PathDirFacts> => {
      try {
        const [stat, writable] = await Promise.all([fs.lstat(dir), fs.access(dir, fs.constants.W_OK).then(() => true, () => false)]);
        return { dir, kind: stat.isSymbolicLink() ? 'link' : stat.isDirectory() ? 'directory' : 'other', ownedByUser: stat.uid === uid, sharedWritable: (stat.mode & 0o022) !== 0, writable };
      } catch {
        return { dir, ownedByUser: false, sharedWritable: false, writable: false };
      }
    }),
  );
}

export interface Installed {
  route: InstallRoute['route'];
  path: string;
  /** One line for the log: where, and what it means. */
  note: string;
  bashEnvLines: string[];
}

/**
 * Installs the helper script; `source` is the 0700 copy in regauth's directory. `beforeWrite`
 * runs once the target is known and before anything is written there (the journal's record).
 */
export async function installHelper(
  env: Env,
  run: RunProcess,
  source: string,
  helperDirectory: string,
  beforeWrite: (path: string, route: InstallRoute['route']) => Promise<void> = async () => undefined,
): Promise<Installed> {
  const facts = await pathDirFacts(env.PATH);
  const isRoot = process.getuid?.() === 0;
  const fallbackDir = layout(helperDirectory).fallbackBin;
  const context = { home: env.HOME ?? '', isRoot, fallbackDir, systemDirs: systemBinDirs(env), sudoDir: sudoBinDir(env) };
  // sudo is asked (a process) only when no directory of the job's own or root's would do.
  const withoutSudo = planInstall(facts, { ...context, sudo: false });
  const askSudo = withoutSudo.route === 'bash-env' && !isRoot;
  const plan = askSudo && (await isOnPath('sudo', env.PATH)) && (await sudoWorks(run, env)) ? planInstall(facts, { ...context, sudo: true }) : withoutSudo;
  const target = join(plan.dir, HELPER_NAME);
  const text = await fs.readFile(source, 'utf8');
  if (plan.route === 'sudo') {
    await refuseForeign(target, run, env, true);
    // Marked and on record before the program exists, so another job's logout never sees it unmarked
    // and a step killed mid-install leaves nothing logout cannot find.
    await addSharedUser(env, helperDirectory);
    await beforeWrite(target, plan.route);
    const result = await run({ command: 'sudo', args: ['-n', 'install', '-m', '0755', source, target], env: { ...env } });
    if (result.exitCode !== 0) throw new Error(`sudo -n install to ${plan.dir} failed (exit ${result.exitCode})`);
    return { route: plan.route, path: target, note: `installed ${target} through passwordless sudo (${plan.dir} is on the job's PATH)`, bashEnvLines: [] };
  }
  if (plan.route === 'user-path') await fs.mkdir(plan.dir, { recursive: true, mode: 0o755 });
  await refuseForeign(target, run, env, false);
  if (plan.route === 'system-path') await addSharedUser(env, helperDirectory);
  await beforeWrite(target, plan.route);
  await writeAtomic(target, text, 0o755, plan.route === 'bash-env');
  if (plan.route === 'bash-env') {
    return {
      route: plan.route,
      path: target,
      note: `installed ${target} and added its directory to PATH through $BASH_ENV: no directory of the job's PATH is writable, so steps in another shell (sh, or a tool not started from bash) will not find it; put ~/bin on PATH or set refresh: false`,
      bashEnvLines: [`export PATH=${shellQuote(plan.dir)}:"$PATH"`],
    };
  }
  return { route: plan.route, path: target, note: `installed ${target} (${plan.dir} is on the job's PATH, so every later step and shell finds it)`, bashEnvLines: [] };
}

/** A file at the target that regauth did not write (or a link) is never replaced. */
async function refuseForeign(target: string, run: RunProcess, env: Env, viaSudo: boolean): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(target);
  } catch {
    return;
  }
  if (stat.isSymbolicLink() || !stat.isFile()) throw new Error(`${target} exists and is not a regular file; regauth does not follow or replace it`);
  const text = viaSudo ? (await run({ command: 'sudo', args: ['-n', 'cat', target], env: { ...env } })).stdout : await fs.readFile(target, 'utf8').catch(() => '');
  if (!text.split('\n', 3).some((line) => line.startsWith(HELPER_MARKER))) throw new Error(`${target} exists and was not written by regauth; regauth leaves it alone`);
}

async function sudoWorks(run: RunProcess, env: Env): Promise<boolean> {
  try {
    return (await run({ command: 'sudo', args: ['-n', 'true'], env: { ...env } })).exitCode === 0;
  } catch {
    return false;
  }
}

/**
 * A helper in a system directory is one program for every job on the machine, of every user (root
 * writes it directly, other users through sudo; the script names no job and finds its files
 * through $HOME). So each job that installs it leaves a mark naming its helper directory, and a
 * logout removes the program only when no mark of any user names a live job (a helper directory
 * that still exists: logout removes it last). Marks live in one directory per user in the machine's temp
 * directory, readable by all and writable by its owner only (they hold a path, no secret); a
 * directory or mark that is a link, or not its named user's, is ignored. A helper directory that
 * cannot be looked into (another user's home) counts as live: the program stays rather than break
 * a job.
 */
const MARKS_PREFIX = 'regauth-helper-users-';

const marksDirOf = (env: Env, uid: number): string => join(machineTempDir(env), `${MARKS_PREFIX}${uid}`);

const markName = (helperDirectory: string): string => createHash('sha256').update(helperDirectory).digest('hex').slice(0, 32);

const myUid = (): number => process.getuid?.() ?? -1;

/** A directory of `uid`'s that others cannot write (not a link); created 0755 when missing and it is ours. */
async function trustedMarksDir(dir: string, uid: number, create: boolean): Promise<boolean> {
  if (create) await fs.mkdir(dir, { recursive: true, mode: 0o755 }).catch(() => undefined);
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat?.isDirectory() || stat.uid !== uid) return false;
  if ((stat.mode & 0o022) !== 0 || ((stat.mode & 0o055) !== 0o055 && create)) {
    if (uid !== myUid()) return false;
    await fs.chmod(dir, 0o755);
  }
  return true;
}

async function addSharedUser(env: Env, helperDirectory: string): Promise<void> {
  const dir = marksDirOf(env, myUid());
  try {
    if (!(await trustedMarksDir(dir, myUid(), true))) return;
    await writeAtomic(join(dir, markName(helperDirectory)), `${helperDirectory}\n`, 0o644, false);
  } catch {
    // Without the mark, another job's logout may remove the shared program early; nothing worse.
  }
}

/** The text of a regular file owned by `uid` (not followed through a link); undefined otherwise. */
async function readMark(file: string, uid: number): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    return stat.isFile() && stat.uid === uid && stat.size < 4096 ? await handle.readFile('utf8') : undefined;
  } finally {
    await handle.close();
  }
}

/** Whether the job whose helper directory this is may still be running (see above). */
async function liveJob(helperDirectory: string): Promise<boolean> {
  if (!isAbsolute(helperDirectory)) return false;
  // Logout removes the helper directory last, so one that still exists belongs to a job that has not logged out.
  return fs.lstat(helperDirectory).then(
    (stat) => stat.isDirectory(),
    (error: NodeJS.ErrnoException) => error.code !== 'ENOENT' && error.code !== 'ENOTDIR',
  );
}

/** Drops this job's mark (and its user's stale ones); true when a live job of any user still uses the shared program. */
export async function releaseSharedUser(helperDirectory: string, env: Env): Promise<boolean> {
  const uid = myUid();
  const own = marksDirOf(env, uid);
  if (await trustedMarksDir(own, uid, false)) {
    await fs.rm(join(own, markName(helperDirectory)), { force: true });
    for (const name of await fs.readdir(own).catch(() => [] as string[])) {
      const other = (await readMark(join(own, name), uid))?.trim();
      if (!other || other === helperDirectory || !(await liveJob(other))) await fs.rm(join(own, name), { force: true });
    }
  }
  const users = (await fs.readdir(machineTempDir(env)).catch(() => [] as string[])).flatMap((name) => {
    const match = new RegExp(`^${MARKS_PREFIX}(\\d+)$`).exec(name);
    return match?.[1] ? [Number(match[1])] : [];
  });
  for (const user of users) {
    const dir = marksDirOf(env, user);
    if (!(await trustedMarksDir(dir, user, false))) continue;
    const names = await fs.readdir(dir).catch(() => undefined);
    // Another user's marks that cannot be read (an older regauth kept them 0700): assume a live job.
    if (!names) return true;
    for (const name of names) {
      const other = (await readMark(join(dir, name), user))?.trim();
      if (other && other !== helperDirectory && (await liveJob(other))) return true;
    }
  }
  return false;
}

/** Removes an installed helper that regauth wrote. */
export async function uninstallHelper(path: string, route: InstallRoute['route'], run: RunProcess, env: Env): Promise<boolean> {
  try {
    await refuseForeign(path, run, env, route === 'sudo');
  } catch {
    return false;
  }
  try {
    await fs.lstat(path);
  } catch {
    return false;
  }
  if (route === 'sudo') return (await run({ command: 'sudo', args: ['-n', 'rm', '-f', path], env: { ...env } })).exitCode === 0;
  await fs.rm(path, { force: true });
  return true;
}

