import http from 'node:http';
import { listenOnLoopback } from '../ports.ts';

/** A loopback HTTP server on a free port. */
export async function listenLoopback(handler: http.RequestListener): Promise<{ server: http.Server; url: string; port: number }> {
  const server = http.createServer(handler);
  // Keep-alive sockets would hold close() open; the SDK reuses connections.
  server.keepAliveTimeout = 1000;
  const port = await listenOnLoopback(server);
  return { server, url: `http://127.0.0.1:${port}`, port };
}

export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
