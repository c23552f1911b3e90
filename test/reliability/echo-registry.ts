/**
 * A hostile registry on 127.0.0.1: it refuses every login and puts the credentials it was sent
 * back into its error text (header, body and the token realm), so a tool that prints remote
 * error text verbatim would print the secret.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../../testbed/ports.ts';

export interface EchoRegistry {
  host: string;
  /** Requests that carried credentials. */
  attempts(): number;
  stop(): Promise<void>;
}

function presented(req: IncomingMessage): string {
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Basic ')) return Buffer.from(header.slice(6), 'base64').toString('utf8');
  return header;
}

export async function startEchoRegistry(): Promise<EchoRegistry> {
  let attempts = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const creds = presented(req);
    if (creds !== '') attempts += 1;
    const message = creds === '' ? 'authentication required' : `credentials ${creds} are not valid here`;
    // /v2/ sends clients to the token realm; the realm refuses, quoting what it was sent.
    const realm = `http://${req.headers.host ?? ''}/token`;
    res.writeHead(401, {
      'content-type': 'application/json',
      'docker-distribution-api-version': 'registry/2.0',
      ...(req.url?.startsWith('/token') ? {} : { 'www-authenticate': `Bearer realm="${realm}",service="echo"` }),
      'x-echo': encodeURIComponent(creds),
    });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message, detail: creds }] }));
  });
  // docker tries TLS first on an insecure registry: cut the handshake so it falls back at once.
  server.on('clientError', (_error, socket) => socket.destroy());
  const port = await listenOnLoopback(server);
  return {
    host: `127.0.0.1:${port}`,
    attempts: () => attempts,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
