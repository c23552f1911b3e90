/** Loopback endpoints: free ports and readiness polling (never a fixed sleep). */
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** A port that was free on 127.0.0.1 a moment ago. Prefer letting a server bind port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe socket'));
      });
    });
  });
}

export interface WaitOptions {
  /** What is being waited for, used in the timeout message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Stops waiting early with this error (e.g. the daemon exited). */
  abort?: () => Error | undefined;
}

/** Polls probe until it returns a value other than undefined. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted) throw aborted;
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out waiting for ${options.what}${reason}`);
    }
    await delay(options.intervalMs ?? 20);
  }
}

/** Starts `server` on 127.0.0.1 at a port the kernel picks, and returns that port. */
export async function listenOnLoopback(server: { listen(port: number, host: string, callback: () => void): unknown; once(event: 'error', listener: (error: Error) => void): unknown; address(): unknown }): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object' || !('port' in address) || typeof address.port !== 'number') throw new Error('the server has no TCP address');
  return address.port;
}
