import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, relative } from 'node:path';
import type { RunProcess } from '../core/process.ts';
import { isOnPath } from '../core/path-lookup.ts';
import type { Env } from '../inputs/common.ts';
import { ensurePrivateDir, layout, readOwned, writeAtomic } from './files.ts';
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

export const SYSTEM_DIRS = ['/usr/local/bin', '/usr/local/sbin', '/usr/bin'];

/** Pure: picks the route from facts about the PATH entries. */
export function planInstall(facts: readonly PathDirFacts[], context: { home: string; isRoot: boolean; sudo: boolean; fallbackDir: string }): InstallRoute {
  const underHome = (dir: string): boolean => {
    const rel = relative(context.home, dir);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const own = (f: PathDirFacts): boolean => f.kind === 'directory' && f.ownedByUser && f.writable && !f.sharedWritable;
  const home = facts.find((f) => underHome(f.dir) && (own(f) || f.kind === undefined));
  if (home) return { route: 'user-path', dir: home.dir };
  if (context.isRoot) {
    const system = SYSTEM_DIRS.map((dir) => facts.find((f) => f.dir === dir && own(f))).find(Boolean);
    if (system) return { route: 'system-path', dir: system.dir };
  }
  if (context.sudo && facts.some((f) => f.dir === '/usr/local/bin' && f.kind === 'directory')) return { route: 'sudo', dir: '/usr/local/bin' };
  return { route: 'bash-env', dir: context.fallbackDir };
}

export async function pathDirFacts(path: string | undefined): Promise<PathDirFacts[]> {
  const uid = process.getuid?.() ?? -1;
  const seen = new Set<string>();
  const out: PathDirFacts[] = [];
  for (const dir of (path ?? '').split(delimiter)) {
    if (!isAbsolute(dir) || seen.has(dir)) continue;
    seen.add(dir);
    try {
      const stat = await fs.lstat(dir);
      const writable = await fs.access(dir, fs.constants.W_OK).then(() => true, () => false);
      out.push({ dir, kind: stat.isSymbolicLink() ? 'link' : stat.isDirectory() ? 'directory' : 'other', ownedByUser: stat.uid === uid, sharedWritable: (stat.mode & 0o022) !== 0, writable });
    } catch {
      out.push({ dir, ownedByUser: false, sharedWritable: false, writable: false });
    }
  }
  return out;
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
  const sudo = !isRoot && (await isOnPath('sudo', env.PATH)) && (await sudoWorks(run, env));
  const fallbackDir = layout(helperDirectory).fallbackBin;
  const plan = planInstall(facts, { home: env.HOME ?? '', isRoot, sudo, fallbackDir });
  const target = join(plan.dir, HELPER_NAME);
  const text = await fs.readFile(source, 'utf8');
  if (plan.route === 'sudo') {
    await refuseForeign(target, run, env, true);
    await beforeWrite(target, plan.route);
    const result = await run({ command: 'sudo', args: ['-n', 'install', '-m', '0755', source, target], env: { ...env } });
    if (result.exitCode !== 0) throw new Error(`sudo -n install to ${plan.dir} failed (exit ${result.exitCode})`);
    await addSharedUser(helperDirectory);
    return { route: plan.route, path: target, note: `installed ${target} through passwordless sudo (${plan.dir} is on the job's PATH)`, bashEnvLines: [] };
  }
  if (plan.route === 'user-path') await fs.mkdir(plan.dir, { recursive: true, mode: 0o755 });
  await refuseForeign(target, run, env, false);
  await beforeWrite(target, plan.route);
  await writeAtomic(target, text, 0o755, plan.route === 'bash-env');
  if (plan.route === 'system-path') await addSharedUser(helperDirectory);
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
 * A helper in a system directory serves every job of this user on the machine (the script names
 * no job), so each job that installed it leaves a mark, and logout removes the script only when
 * no other job whose helper directory still exists is marked. The marks live in a 0700 directory
 * of the user's under the temp directory; one that is not (a link, someone else's) is ignored.
 */
function sharedUsersDir(): string {
  return join(tmpdir(), `regauth-helper-users-${process.getuid?.() ?? 'x'}`);
}

const markName = (helperDirectory: string): string => createHash('sha256').update(helperDirectory).digest('hex').slice(0, 32);

async function addSharedUser(helperDirectory: string): Promise<void> {
  try {
    await writeAtomic(join(sharedUsersDir(), markName(helperDirectory)), `${helperDirectory}\n`);
  } catch {
    // Without the mark, a parallel job's logout may remove the shared script early; nothing worse.
  }
}

/** Drops this job's mark; true when another live job still uses the shared script. */
export async function releaseSharedUser(helperDirectory: string): Promise<boolean> {
  const dir = sharedUsersDir();
  try {
    await ensurePrivateDir(dir);
  } catch {
    return false;
  }
  await fs.rm(join(dir, markName(helperDirectory)), { force: true });
  let others = false;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const other = (await readOwned(join(dir, name)))?.trim();
    // A job whose helper directory still exists has not logged out.
    if (other && (await fs.lstat(other).then((stat) => stat.isDirectory(), () => false))) others = true;
    else await fs.rm(join(dir, name), { force: true });
  }
  return others;
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

