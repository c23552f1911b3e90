/**
 * Scratch resources a test process owns — temporary directories and daemon processes — and
 * the guarantee that they go away: explicitly through stop()/remove(), or, if a test run is
 * interrupted, when this process exits (daemons are killed by their own pid, never by name).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

const liveDirs = new Set<string>();
const livePids = new Set<number>();
let exitHookInstalled = false;

function cleanUpNow(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  livePids.clear();
  for (const dir of liveDirs) {
    try {
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort on the way out
    }
  }
  liveDirs.clear();
}

/** Mount points at or below dir, deepest first (pure). */
export function mountsUnder(mountsTable: string, dir: string): string[] {
  return mountsTable
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** A dockerd killed hard leaves its data-root bind-mounted; detach such mounts before removing. */
function unmountUnder(dir: string): void {
  let table: string;
  try {
    table = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return;
  }
  for (const point of mountsUnder(table, dir)) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', cleanUpNow);
  // vitest ends its fork workers with SIGTERM, which skips 'exit' handlers: clean up, then let
  // the signal take its default course unless someone else handles it.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanUpNow();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Set by the suite's global setup (test/support/global-setup.ts): the one directory of this test run. */
export const RUN_ROOT_VARIABLE = 'REGAUTH_TEST_RUN_ROOT';

/**
 * Where this run's scratch goes: the run's own directory under /tmp, which the global setup
 * removes at the end, so nothing lands in the shared /tmp. A file run on its own without the
 * global setup falls back to /tmp. Never $TMPDIR as given: unix socket paths inside must stay far
 * below the ~107-byte limit.
 */
export function scratchRoot(): string {
  return process.env[RUN_ROOT_VARIABLE] ?? '/tmp';
}

/** A fresh 0700 directory in the run's scratch root. */
export function makeTempDir(prefix = 'regauth-'): TempDir {
  installExitHook();
  const path = mkdtempSync(join(scratchRoot(), prefix));
  liveDirs.add(path);
  let removed = false;
  return {
    path,
    async remove() {
      if (removed) return;
      removed = true;
      liveDirs.delete(path);
      unmountUnder(path);
      await rm(path, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

export interface Daemon {
  pid: number;
  /** Resolves with the exit code (or 128 + signal) once the process has exited. */
  exited: Promise<number>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** The tail of the daemon's log file, for failure messages. */
  logTail(lines?: number): string;
}

export interface DaemonOptions {
  command: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each stderr chunk when the caller needs to watch the log (e.g. for a port). */
  onStderr?: (chunk: string) => void;
}

/** Starts a long-running server directly (no shell), its output appended to logFile. */
export function startDaemon(options: DaemonOptions): Daemon {
  installExitHook();
  const logFd = openSync(options.logFile, 'a', 0o600);
  const watch = options.onStderr !== undefined;
  const child = spawn(options.command, [...options.args], {
    env: options.env ?? process.env,
    stdio: ['ignore', logFd, watch ? 'pipe' : logFd],
  });
  closeSync(logFd);
  child.on('error', () => undefined);
  if (child.pid === undefined) {
    // spawn reports ENOENT asynchronously, but pid is already undefined: fail fast and clearly.
    throw new Error(`${options.command} could not be started`);
  }
  const pid = child.pid;
  livePids.add(pid);
  let done = false;
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      livePids.delete(pid);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  if (watch && child.stderr) {
    const logFdErr = openSync(options.logFile, 'a', 0o600);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      try {
        // Keep the full log on disk even while the caller watches it.
        writeSync(logFdErr, chunk);
      } catch {
        // log file removed under us: nothing useful to do
      }
      options.onStderr?.(chunk);
    });
    child.stderr.on('close', () => closeSync(logFdErr));
  }
  let stopping: Promise<void> | undefined;
  return {
    pid,
    exited,
    hasExited: () => done,
    logTail(lines = 30) {
      try {
        return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    stop(graceMs = 15_000) {
      stopping ??= (async () => {
        if (done) return;
        signalPid(pid, 'SIGTERM');
        const timer = setTimeout(() => signalPid(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already exited
  }
}

/**
 * Puts a process this test process did not spawn itself (e.g. the containerd a dockerd started)
 * on the kill-at-exit list; returns the function that takes it off again.
 */
export function adoptPid(pid: number): () => void {
  installExitHook();
  livePids.add(pid);
  return () => {
    livePids.delete(pid);
  };
}

/** True while a process with this pid exists (for processes we did not spawn ourselves). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
