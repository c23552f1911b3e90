/**
 * An HTTPS_PROXY for tests that lets real host names (quay.io, registry-1.docker.io, …) reach
 * local servers with no network and no /etc/hosts: it answers `CONNECT <host>:443` only for hosts
 * on its route table and refuses everything else, so nothing leaves the machine.
 *
 * For a routed host it terminates TLS itself with a certificate naming that host (the client
 * checks a real chain for a real name), then forwards the bytes to the local backend: over TLS,
 * verified against `backendCaPem`, or plain (a token server, the local AWS stack). Terminating
 * here, rather than tunnelling to the backend, lets any local registry stand in for any host
 * without serving that host's certificate itself.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { listenOnLoopback } from './ports.ts';

export interface Backend {
  /** Port on 127.0.0.1. */
  port: number;
  /** The backend speaks TLS (verified against backendCaPem for 127.0.0.1). */
  tls: boolean;
}

export interface ConnectRecord {
  host: string;
  port: number;
  /** routed: tunnelled to a backend; refused: not on the route table (or not port 443). */
  outcome: 'routed' | 'refused';
}

export interface ConnectProxyOptions {
  /** Certificate (and key) the proxy presents; it must name every routed host. */
  certPem: string;
  keyPem: string;
  /** CA that signed the TLS backends' certificates. */
  backendCaPem: string;
  routes?: Readonly<Record<string, Backend>>;
}

export interface ConnectProxy {
  /** `http://127.0.0.1:PORT`, the value for HTTPS_PROXY. */
  url: string;
  /** Routes `host` (lower case, port 443) to `backend`; undefined removes the route. */
  setRoute(host: string, backend: Backend | undefined): void;
  /** Every CONNECT seen, in order. */
  readonly connects: readonly ConnectRecord[];
  clearLog(): void;
  stop(): Promise<void>;
}

/** `host:port` of a CONNECT request line (pure); undefined when malformed. */
export function parseConnectTarget(target: string | undefined): { host: string; port: number } | undefined {
  const match = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(target ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1].toLowerCase(), port };
}

const REFUSAL = 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nregauth test proxy: this host is not routed to a local server\n';

export async function startConnectProxy(options: ConnectProxyOptions): Promise<ConnectProxy> {
  const routes = new Map(Object.entries(options.routes ?? {}).map(([host, backend]) => [host.toLowerCase(), backend]));
  const connects: ConnectRecord[] = [];
  const sockets = new Set<Socket>();
  const context: SecureContext = createSecureContext({ cert: options.certPem, key: options.keyPem });

  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A peer that goes away mid-stream is normal for a proxy; never crash the test process.
    socket.on('error', () => socket.destroy());
  };

  const tunnel = (client: Socket, head: Buffer, backend: Backend): void => {
    if (head.length > 0) client.unshift(head);
    const secured = new TLSSocket(client, { isServer: true, secureContext: context });
    track(secured);
    const upstream: Socket = backend.tls
      ? tlsConnect({ host: '127.0.0.1', port: backend.port, ca: options.backendCaPem })
      : netConnect({ host: '127.0.0.1', port: backend.port });
    track(upstream);
    secured.pipe(upstream).pipe(secured);
    secured.on('close', () => upstream.destroy());
    upstream.on('close', () => secured.destroy());
  };

  const onConnect = (req: IncomingMessage, client: Socket, head: Buffer): void => {
    track(client);
    const target = parseConnectTarget(req.url);
    const backend = target?.port === 443 ? routes.get(target.host) : undefined;
    connects.push({ host: target?.host ?? String(req.url), port: target?.port ?? 0, outcome: backend ? 'routed' : 'refused' });
    if (!backend) {
      client.end(REFUSAL);
      return;
    }
    // The client sends nothing before this answer, and its later bytes wait unread until the
    // TLS socket below takes the stream over.
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    tunnel(client, head, backend);
  };

  const server: Server = createServer((req, res) => {
    // Plain proxied HTTP (HTTP_PROXY) is never forwarded either.
    connects.push({ host: String(req.headers.host ?? req.url), port: 80, outcome: 'refused' });
    res.writeHead(403, { 'content-type': 'text/plain' }).end('regauth test proxy: only CONNECT to routed hosts\n');
  });
  server.on('connect', onConnect);
  server.on('connection', track);
  const port = await listenOnLoopback(server);

  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    setRoute(host, backend) {
      if (backend) routes.set(host.toLowerCase(), backend);
      else routes.delete(host.toLowerCase());
    },
    connects,
    clearLog: () => void connects.splice(0),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopping;
    },
  };
}
