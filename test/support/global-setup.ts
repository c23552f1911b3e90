/**
 * vitest's global setup: runs before the first test file and after the last.
 *
 * 1. The run's own scratch directory under /tmp (REGAUTH_TEST_RUN_ROOT, and TMPDIR for every test
 *    process), removed at the end, so no test leaves a `regauth-*` entry in the shared /tmp.
 * 2. The proof that the suite touches nothing of the machine's: before, it plants what a real job
 *    that never logged out leaves (a `docker-credential-regauth` in /usr/local/bin, the marks
 *    directory `/tmp/regauth-helper-users-<uid>` naming a live job); after, both must be byte for
 *    byte as planted and no new `regauth-*` entry may exist in /tmp or /usr/local/bin. Otherwise
 *    the teardown throws, vitest exits non-zero and scripts/run-tests.ts counts a failure. What was
 *    there before the plant is put back.
 *
 * The real home's .docker, .aws, .regauth and .config/gcloud must be unchanged too (HOME points
 * into the run root for the test processes).
 *
 * One run at a time plants and checks (a lock in /tmp); a run started while another holds it only
 * says so (and fails under CI=true, where one suite runs per machine). A concurrent run of code
 * from before this check (writing `regauth-*` entries straight into /tmp) still trips it.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { helperScript, HELPER_NAME } from '../../src/refresh/helper-script.ts';
import { mountsUnder, RUN_ROOT_VARIABLE } from '../../testbed/tempdir.ts';
import { spawnSync } from 'node:child_process';

const SYSTEM_BIN = '/usr/local/bin';
const TMP = '/tmp';

/** Everything about a path that a job could change: kind, mode, owner, bytes, entries (recursively). */
export function fingerprint(path: string): string {
  const hash = createHash('sha256');
  const walk = (at: string, name: string): void => {
    let stat;
    try {
      stat = lstatSync(at);
    } catch {
      hash.update(`${name} missing\n`);
      return;
    }
    hash.update(`${name} ${stat.mode.toString(8)} ${stat.uid}:${stat.gid}\n`);
    if (stat.isSymbolicLink()) hash.update(readlinkSync(at));
    else if (stat.isFile()) hash.update(readFileSync(at));
    else if (stat.isDirectory()) for (const entry of readdirSync(at).sort()) walk(join(at, entry), `${name}/${entry}`);
  };
  walk(path, '.');
  return hash.digest('hex');
}

const ours = (dir: string, match: (name: string) => boolean): Set<string> => {
  try {
    return new Set(readdirSync(dir).filter(match));
  } catch {
    return new Set();
  }
};

interface Plant {
  path: string;
  /** Where what was there before the plant waits to be put back. */
  stash?: string;
  planted: string;
}

/** Moves whatever is at `path` aside into the run root (same file system only: else copies). */
function stashAside(path: string, into: string): string | undefined {
  if (!existsSync(path) && !isLink(path)) return undefined;
  const stash = join(into, `stash-${Buffer.from(path).toString('hex')}`);
  try {
    renameSync(path, stash);
  } catch {
    spawnSync('cp', ['-a', path, stash]);
    rmSync(path, { recursive: true, force: true });
  }
  return stash;
}

function putBack(plant: Plant): void {
  rmSync(plant.path, { recursive: true, force: true });
  if (!plant.stash) return;
  try {
    renameSync(plant.stash, plant.path);
  } catch {
    spawnSync('cp', ['-a', plant.stash, plant.path]);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Whether a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const pidIn = (file: string): number => Number(readFileSyncOrEmpty(file).trim());

function readFileSyncOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * One run at a time may plant and check the machine's places: a directory made atomically, holding
 * the owner's pid (taken over when that process is gone). Named so it is no `regauth-*` entry.
 */
const CHECK_LOCK = join(TMP, '.regauth-machine-check');

function takeCheckLock(): number | undefined {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      mkdirSync(CHECK_LOCK, { mode: 0o700 });
      writeFileSync(join(CHECK_LOCK, 'pid'), `${process.pid}\n`);
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = pidIn(join(CHECK_LOCK, 'pid'));
      if (owner > 0 && alive(owner)) return owner;
      rmSync(CHECK_LOCK, { recursive: true, force: true });
    }
  }
  return -1;
}

/** A run root whose pid file names a process that is gone (killed before its teardown). */
export function deadRun(root: string): boolean {
  const pid = pidIn(join(root, 'pid'));
  return pid > 0 && !alive(pid);
}

/** The marks directory holds only marks this setup plants, for runs that are gone. */
export function leftoverPlant(marks: string): boolean {
  let names: string[];
  try {
    names = readdirSync(marks);
  } catch {
    return false;
  }
  return (
    names.length > 0 &&
    names.every((name) => {
      const named = readFileSyncOrEmpty(join(marks, name)).trim();
      const run = /^(\/tmp\/regauth-run-[^/]+)\/planted-job\/\.regauth\/helper$/.exec(named)?.[1];
      return run !== undefined && (!existsSync(run) || deadRun(run));
    })
  );
}

/** Another test run's scratch directory (its own process still running): not ours to judge. */
const anotherLiveRun = (name: string): boolean => name.startsWith('regauth-run-') && alive(pidIn(join(TMP, name, 'pid')));

export default function setup(): () => void {
  const root = mkdtempSync(join(TMP, 'regauth-run-'));
  chmodSync(root, 0o700);
  writeFileSync(join(root, 'pid'), `${process.pid}\n`);
  process.env[RUN_ROOT_VARIABLE] = root;
  // Everything that asks the OS for a temp directory (tests, docker, skopeo) lands in the run root too.
  process.env.TMPDIR = root;
  // And every tool a test starts with the test process's own environment (docker, aws, gcloud, npm)
  // writes its ~/.docker, ~/.aws, ~/.config there, not in the real home, which must stay as it is.
  const realHome = homedir();
  const watchedInHome = ['.docker', '.aws', '.regauth', '.config/gcloud'].map((name) => join(realHome, name));
  const homeBefore = new Map(watchedInHome.map((path) => [path, fingerprint(path)]));
  process.env.HOME = join(root, 'home');
  mkdirSync(process.env.HOME, { mode: 0o700 });

  const removeRoot = (): void => {
    for (const point of mountsUnder(readFileSync('/proc/self/mounts', 'utf8'), root)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };

  // Scratch of runs killed before their teardown (SIGKILL, a timeout): nobody else removes it.
  for (const name of ours(TMP, (entry) => entry.startsWith('regauth-run-'))) {
    const other = join(TMP, name);
    if (other === root || !deadRun(other)) continue;
    if (ours(join(other, 'stash'), () => true).size > 0) {
      // It moved the machine's own files aside: a person must put them back (stash-<hex of the path>).
      console.log(`regauth global setup: ${other} is left from a killed run and holds what it moved aside in stash/; put it back by hand`);
      continue;
    }
    for (const point of mountsUnder(readFileSync('/proc/self/mounts', 'utf8'), other)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
    rmSync(other, { recursive: true, force: true });
  }

  const holder = takeCheckLock();
  if (holder !== undefined) {
    const why = holder > 0 ? `another test run on this machine (pid ${holder}) is checking it` : `${CHECK_LOCK} could not be taken`;
    const line = `regauth global setup: ${why}, so this run cannot prove it left /usr/local/bin and /tmp as it found them`;
    console.log(line);
    return () => {
      removeRoot();
      // CI runs one suite per machine: there, an unproven run is a failed one.
      if (process.env.CI === 'true') throw new Error(line);
    };
  }

  const plants: Plant[] = [];
  const problems: string[] = [];
  const uid = process.getuid?.() ?? -1;
  // A job that never logged out: its helper directory still exists, so it counts as live.
  const liveJob = join(root, 'planted-job', '.regauth', 'helper');
  mkdirSync(liveJob, { recursive: true, mode: 0o700 });
  writeFileSync(join(liveJob, 'state.json'), '{"groups":[],"entries":[],"exported":[]}\n', { mode: 0o600 });

  const program = join(SYSTEM_BIN, HELPER_NAME);
  const marks = join(TMP, `regauth-helper-users-${uid}`);
  const stashes = join(root, 'stash');
  mkdirSync(stashes, { mode: 0o700 });
  if (leftoverPlant(marks)) {
    // A run killed before its teardown left its plants: they were never the machine's, so they go.
    console.log(`regauth global setup: removing ${program} and ${marks} planted by a test run that is gone`);
    rmSync(marks, { recursive: true, force: true });
    if (readFileSyncOrEmpty(program) === helperScript()) rmSync(program, { force: true });
  }
  if (uid === 0) {
    const stash = stashAside(program, stashes);
    writeFileSync(program, helperScript(), { mode: 0o755 });
    chmodSync(program, 0o755);
    plants.push({ path: program, planted: fingerprint(program), ...(stash ? { stash } : {}) });
  } else {
    console.log(`regauth global setup: not root, so nothing is planted in ${SYSTEM_BIN} (CI runs as root)`);
  }
  {
    const stash = stashAside(marks, stashes);
    mkdirSync(marks, { mode: 0o755 });
    chmodSync(marks, 0o755);
    writeFileSync(join(marks, createHash('sha256').update(liveJob).digest('hex').slice(0, 32)), `${liveJob}\n`, { mode: 0o644 });
    plants.push({ path: marks, planted: fingerprint(marks), ...(stash ? { stash } : {}) });
  }
  const tmpBefore = ours(TMP, (name) => name.startsWith('regauth-'));
  const binBefore = ours(SYSTEM_BIN, (name) => name.includes('regauth'));

  return () => {
    for (const plant of plants) {
      if (fingerprint(plant.path) !== plant.planted) problems.push(`${plant.path} changed during the test run (a test wrote to the machine's own places)`);
    }
    for (const [path, before] of homeBefore) if (fingerprint(path) !== before) problems.push(`${path} changed during the test run (a test wrote to the real home)`);
    const tmpAfter = ours(TMP, (name) => name.startsWith('regauth-'));
    const binAfter = ours(SYSTEM_BIN, (name) => name.includes('regauth'));
    for (const plant of plants) putBack(plant);
    removeRoot();
    rmSync(CHECK_LOCK, { recursive: true, force: true });
    if (existsSync(root)) problems.push(`${root} (the run's scratch) could not be removed`);
    for (const name of tmpAfter) {
      if (!tmpBefore.has(name) && name !== root.slice(TMP.length + 1) && !anotherLiveRun(name)) problems.push(`${join(TMP, name)} was left behind`);
    }
    for (const name of binAfter) if (!binBefore.has(name)) problems.push(`${join(SYSTEM_BIN, name)} was left behind`);
    if (problems.length > 0) {
      throw new Error(`the test run changed the machine it ran on:\n  ${problems.join('\n  ')}`);
    }
  };
}
