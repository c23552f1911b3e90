import http from 'node:http';
import net from 'node:net';
import { closeServer, listenLoopback } from '../../../testbed/aws/http.ts';

/** A tiny forward (absolute-URI) and CONNECT proxy on loopback that counts what it carries. */
export interface CountingProxy {
  url: string;
  forwarded: number;
  tunnels: number;
  stop(): Promise<void>;
}

export async function startCountingProxy(): Promise<CountingProxy> {
  const state = { forwarded: 0, tunnels: 0 };
  const sockets = new Set<net.Socket>();
  const { server, url } = await listenLoopback((req, res) => {
    state.forwarded++;
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    const upstream = http.request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    state.tunnels++;
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
  });
  return {
    url,
    get forwarded() {
      return state.forwarded;
    },
    get tunnels() {
      return state.tunnels;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}
