import http from 'node:http';
import https from 'node:https';
import { getProxyForUrl } from 'proxy-from-env';
import { proxyAgents } from '../../core/proxy.ts';

/** One HTTP POST to Google; injectable so unit tests need no server. */
export interface GoogleHttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The whole exchange (connect, send, answer) must end within this. */
  timeoutMs: number;
}

export interface GoogleHttpResponse {
  status: number;
  headers: Readonly<Record<string, string | undefined>>;
  body: string;
}

export type GooglePost = (request: GoogleHttpRequest) => Promise<GoogleHttpResponse>;

/** Raised when a request outlives its deadline; classified as transient. */
export class DeadlineExceededError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(url: string, timeoutMs: number) {
    super(`no answer from ${new URL(url).host} within ${timeoutMs / 1000} s`);
    this.name = 'DeadlineExceededError';
  }
}

const MAX_BODY_BYTES = 256 * 1024;

/**
 * node:http(s) rather than global fetch: fetch ignores HTTPS_PROXY / NO_PROXY, and regauth's
 * proxy agents (src/core/proxy.ts) plug into node:https only. No third-party HTTP client: the
 * bundle stays small.
 */
export const nodePost: GooglePost = (request) =>
  new Promise((resolve, reject) => {
    const target = new URL(request.url);
    const secure = target.protocol === 'https:';
    const proxy = getProxyForUrl(request.url);
    const agents = proxy === '' ? undefined : proxyAgents(proxy);
    const agent = agents === undefined ? undefined : secure ? agents.https : agents.http;
    const signal = AbortSignal.timeout(request.timeoutMs);
    const body = Buffer.from(request.body);
    const req = (secure ? https : http).request(
      target,
      { method: 'POST', headers: { ...request.headers, 'content-length': String(body.length) }, signal, ...(agent ? { agent } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        });
        response.on('error', (error) => reject(signal.aborted ? new DeadlineExceededError(request.url, request.timeoutMs) : error));
        response.on('end', () => {
          const headers: Record<string, string | undefined> = {};
          for (const [name, value] of Object.entries(response.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({ status: response.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', (error) => reject(signal.aborted ? new DeadlineExceededError(request.url, request.timeoutMs) : error));
    req.end(body);
  });
