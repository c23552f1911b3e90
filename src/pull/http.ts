import http from 'node:http';
import https from 'node:https';
import { getProxyForUrl } from 'proxy-from-env';
import { proxyAgents } from '../core/proxy.ts';

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


/** node:http(s) rather than global fetch, because it must honour HTTPS_PROXY / NO_PROXY. */
export const nodeFetch: Fetch = (url, init) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const proxy = getProxyForUrl(url);
    const agents = proxy === '' ? undefined : proxyAgents(proxy);
    const agent = agents === undefined ? undefined : secure ? agents.https : agents.http;
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
    request.on('error', reject);
    request.end();
  });
