/**
 * A registry front of the test's own on 127.0.0.1, speaking just enough of the token protocol
 * for `docker login`: /v2/ sends the client to /token, and /token answers what the test scripts
 * for the credentials it was sent — a token (login succeeds), or a refusal whose message the
 * test writes (a hostile registry quoting secrets, escape sequences, forged lines). /token can
 * also be held open until the test releases it, to look at the job while docker login is in
 * flight.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../../testbed/ports.ts';

export interface Presented {
  username: string;
  password: string;
  /** The Authorization header as sent (`Basic base64(user:password)`). */
  header: string;
}

export type Answer = { ok: true } | { ok: false; message: string };

export interface ScriptedRegistry {
  host: string;
  /** Token requests that carried credentials. */
  attempts(): number;
  /** What the next token requests are answered with (default: accept). */
  answer: (presented: Presented) => Answer;
  /** While set, token requests wait for release(); `held` resolves when one arrives. */
  hold(): { held: Promise<void>; release: () => void };
  stop(): Promise<void>;
}

function presented(req: IncomingMessage): Presented | undefined {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), header };
}

export async function startScriptedRegistry(): Promise<ScriptedRegistry> {
  let attempts = 0;
  let gate: { arrived: () => void; released: Promise<void> } | undefined;
  const registry: ScriptedRegistry = {
    host: '',
    attempts: () => attempts,
    answer: () => ({ ok: true }),
    hold() {
      let arrived: () => void = () => undefined;
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (arrived = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      gate = { arrived, released };
      return {
        held,
        release: () => {
          gate = undefined;
          release();
        },
      };
    },
    stop: async () => undefined,
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    void (async () => {
      const base = { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' };
      if (!req.url?.startsWith('/token')) {
        if (req.headers.authorization === 'Bearer scripted-token') {
          res.writeHead(200, base);
          res.end('{}');
          return;
        }
        res.writeHead(401, { ...base, 'www-authenticate': `Bearer realm="http://${req.headers.host ?? ''}/token",service="scripted"` });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      const creds = presented(req);
      if (creds === undefined) {
        res.writeHead(401, base);
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      attempts += 1;
      const current = gate;
      if (current) {
        current.arrived();
        await current.released;
      }
      const answer = registry.answer(creds);
      if (answer.ok) {
        res.writeHead(200, base);
        res.end(JSON.stringify({ token: 'scripted-token' }));
        return;
      }
      res.writeHead(401, base);
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: answer.message }] }));
    })();
  });
  // docker tries TLS first on a loopback registry: cut the handshake so it falls back to http at once.
  server.on('clientError', (_error, socket) => socket.destroy());
  const port = await listenOnLoopback(server);
  registry.host = `127.0.0.1:${port}`;
  registry.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return registry;
}
