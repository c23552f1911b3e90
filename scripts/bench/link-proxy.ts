/**
 * A reverse proxy on 127.0.0.1 that behaves like a CDN edge seen from a CI machine: every request
 * waits `latencyMs` on the way in and again before its answer, and every response body is capped
 * at `bytesPerSecond` on its own connection (per-connection, not shared: that is what makes the
 * engine's 3 download slots the limit). Bench only; no faults.
 */
import { Agent, createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

export interface LinkProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const SLICE_BYTES = 16 * 1024;

function withoutHopByHop(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !HOP_BY_HOP.has(name)));
}

/** One connection's cap: slices go out no faster than the rate. */
function capped(bytesPerSecond: number): Transform {
  let nextFree = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const send = async (): Promise<void> => {
        for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
          const slice = chunk.subarray(at, at + SLICE_BYTES);
          const now = performance.now();
          const start = Math.max(now, nextFree);
          nextFree = start + (slice.length / bytesPerSecond) * 1000;
          const wait = nextFree - now;
          if (wait > 1) await delay(wait);
          this.push(slice);
        }
      };
      send().then(() => done(), done);
    },
  });
}

export async function startLinkProxy(options: { target: string; latencyMs: number; bytesPerSecond: number }): Promise<LinkProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  let self = '';
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    await delay(options.latencyMs);
    const headers = withoutHopByHop(req.headers);
    headers['x-forwarded-proto'] = 'http';
    const upstream = request({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
      const out = withoutHopByHop(upRes.headers);
      const location = upRes.headers.location;
      if (location?.startsWith(target.origin)) out.location = self + location.slice(target.origin.length);
      delay(options.latencyMs).then(
        () => {
          res.writeHead(upRes.statusCode ?? 502, out);
          upRes.pipe(capped(options.bytesPerSecond)).pipe(res);
        },
        () => res.destroy(),
      );
      upRes.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  self = `http://${host}`;
  return {
    host,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
