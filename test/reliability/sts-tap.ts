/**
 * A pass-through in front of the local STS that reads the temporary keys it mints (so the suite
 * can plant them as canaries: they are random and only STS knows them), or, in echo mode,
 * refuses every call with an error message that quotes the web identity token it was sent.
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { listenOnLoopback } from '../../testbed/ports.ts';

export interface MintedKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface StsTap {
  url: string;
  minted: MintedKeys[];
  echo: boolean;
  stop(): Promise<void>;
}

const tag = (xml: string, name: string): string => new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1] ?? '';

async function body(stream: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startStsTap(targetUrl: string): Promise<StsTap> {
  const target = new URL(targetUrl);
  const tap: StsTap = { url: '', minted: [], echo: false, stop: async () => undefined };
  const server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      if (tap.echo) {
        const token = new URLSearchParams(text).get('WebIdentityToken') ?? '';
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(
          `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>` +
            `<Message>Token ${token} could not be verified</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
        );
        return;
      }
      const headers = { ...req.headers, host: target.host };
      const upstream = request({ hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers }, (up) => {
        void body(up).then((answer) => {
          const accessKeyId = tag(answer, 'AccessKeyId');
          if (accessKeyId) tap.minted.push({ accessKeyId, secretAccessKey: tag(answer, 'SecretAccessKey'), sessionToken: tag(answer, 'SessionToken') });
          const out = { ...up.headers };
          delete out['transfer-encoding'];
          out['content-length'] = String(Buffer.byteLength(answer));
          res.writeHead(up.statusCode ?? 502, out);
          res.end(answer);
        });
      });
      upstream.on('error', () => res.destroy());
      upstream.end(text);
    })().catch(() => res.destroy());
  });
  const port = await listenOnLoopback(server);
  tap.url = `http://127.0.0.1:${port}`;
  tap.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return tap;
}
