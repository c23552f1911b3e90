import { spawn } from 'node:child_process';

/** Every child process regauth starts goes through here: secrets travel on stdin only. */
export interface ProcessRequest {
  command: string;
  args: readonly string[];
  /** Written to the child's stdin, then closed. The only way a secret may reach a child. */
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each chunk of stdout/stderr as it arrives (already decoded). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** Aborting ends the child (SIGTERM, then SIGKILL if it lingers); the result still resolves. */
  signal?: AbortSignal;
}

export interface ProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type RunProcess = (request: ProcessRequest) => Promise<ProcessResult>;

export class ProcessStartError extends Error {
  constructor(
    readonly command: string,
    readonly code: string | undefined,
  ) {
    super(code === 'ENOENT' ? `${command} was not found on PATH` : `${command} could not be started (${code ?? 'unknown error'})`);
    this.name = 'ProcessStartError';
  }
}

const KILL_GRACE_MS = 3000;
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export const runProcess: RunProcess = (request) =>
  new Promise((resolve, reject) => {
    const child = spawn(request.command, [...request.args], {
      env: request.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      request.onOutput?.(chunk, 'stdout');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      request.onOutput?.(chunk, 'stderr');
    });
    let killTimer: NodeJS.Timeout | undefined;
    const end = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    if (request.signal?.aborted) end();
    else request.signal?.addEventListener('abort', end, { once: true });
    const detach = (): void => {
      request.signal?.removeEventListener('abort', end);
      if (killTimer !== undefined) clearTimeout(killTimer);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      detach();
      reject(new ProcessStartError(request.command, error.code));
    });
    child.on('close', (code, signal) => {
      detach();
      resolve({ exitCode: code ?? (signal ? 128 + (SIGNAL_NUMBERS[signal] ?? 0) : 1), stdout, stderr });
    });
    // A child that exits before reading stdin must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(request.stdin ?? '');
  });
