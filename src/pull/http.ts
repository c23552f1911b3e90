import http from 'node:http';
import https from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';

/** The slice of fetch regauth/pull needs; injectable so tests use fakes. */
export interface HttpResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface HttpRequestInit {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Accept any certificate: only for loopback registries, which docker itself does not verify. */
  insecureTls?: boolean;
}

export type Fetch = (url: string, init: HttpRequestInit) => Promise<HttpResponse>;

const MAX_BODY_BYTES = 1024 * 1024;

/** The proxy in HTTPS_PROXY said no; named by host only (its URL may carry credentials). */
export class ProxyRefusedError extends Error {
  constructor(proxyUrl: string, target: string, status: number | undefined) {
    super(`the proxy ${new URL(proxyUrl).host} refused CONNECT to ${target.includes(':') ? target : `${target}:443`} (HTTP ${status ?? '?'})`);
    this.name = 'ProxyRefusedError';
  }
}

/** node:http(s) rather than global fetch, because it must honour HTTPS_PROXY / NO_PROXY. */
export const nodeFetch: Fetch = (url, init) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const proxy = getProxyForUrl(url);
    const agent = proxy === '' ? undefined : secure ? new HttpsProxyAgent(proxy) : new HttpProxyAgent(proxy);
    const request = (secure ? https : http).request(target, { method: init.method, headers: init.headers, signal: init.signal, ...(agent ? { agent } : {}), ...(secure && init.insecureTls ? { rejectUnauthorized: false } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: response.statusCode ?? 0,
          headers: {
            get(name) {
              const value = response.headers[name.toLowerCase()];
              if (value === undefined) return null;
              return Array.isArray(value) ? value.join(', ') : value;
            },
          },
          text: () => Promise.resolve(body),
        });
      });
    });
    // A proxy that refuses the CONNECT would otherwise look like the target itself answering.
    request.on('proxyConnect', (connect: { statusCode?: number }) => {
      if (connect.statusCode !== 200) request.destroy(new ProxyRefusedError(proxy, target.host, connect.statusCode));
    });
    request.on('error', reject);
    request.end();
  });
