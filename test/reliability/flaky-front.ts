/**
 * A plain-HTTP front for a test registry on 127.0.0.1 whose first N requests fail the way
 * registries fail (429 with or without Retry-After, 503, a cut connection); the rest are
 * forwarded. Unlike the fault proxy it also faults the `/v2/` ping that `docker login` makes.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import { listenOnLoopback } from '../../testbed/ports.ts';

export type FrontFault = '429' | '503' | 'reset';

export interface FlakyFront {
  host: string;
  /** The next `times` requests fail with `fault`. */
  failNext(fault: FrontFault, times: number, retryAfterSeconds?: number): void;
  /** Requests faulted so far. */
  faulted(): number;
  /** Requests seen so far (faulted or forwarded). */
  requests(): number;
  stop(): Promise<void>;
}

export async function startFlakyFront(targetUrl: string, caFile: string): Promise<FlakyFront> {
  const target = new URL(targetUrl);
  const agent = new Agent({ keepAlive: true, ca: readFileSync(caFile) });
  let pending: { fault: FrontFault; left: number; retryAfter: number | undefined } | undefined;
  let faulted = 0;
  let seen = 0;
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const upstream = request({ hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host }, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    seen += 1;
    if (pending && pending.left > 0) {
      pending.left -= 1;
      faulted += 1;
      if (pending.fault === 'reset') return void req.socket.destroy();
      const status = pending.fault === '429' ? 429 : 503;
      req.resume();
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(pending.retryAfter !== undefined ? { 'retry-after': String(pending.retryAfter) } : {}),
      });
      return void res.end(JSON.stringify({ errors: [{ code: status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected ${status}` }] }));
    }
    forward(req, res);
  });
  // docker probes HTTPS first on an insecure registry: cut it so it falls back to HTTP at once.
  server.on('clientError', (_error, socket) => socket.destroy());
  const port = await listenOnLoopback(server);
  return {
    host: `127.0.0.1:${port}`,
    failNext(fault, times, retryAfterSeconds) {
      pending = { fault, left: times, retryAfter: retryAfterSeconds };
    },
    faulted: () => faulted,
    requests: () => seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
