import type { ClientRequest } from 'node:http';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

/** The proxy in HTTPS_PROXY said no; named by host only (its URL may carry credentials). */
export class ProxyRefusedError extends Error {
  constructor(proxyUrl: string, target: string, status: number | undefined) {
    super(`the proxy ${new URL(proxyUrl).host} refused CONNECT to ${target.includes(':') ? target : `${target}:443`} (HTTP ${status ?? '?'})`);
    this.name = 'ProxyRefusedError';
  }
}

/**
 * Agents for a proxy URL. https-proxy-agent hands a refused CONNECT's answer to the request as if
 * the target had sent it; here the request fails instead, with an error that names the proxy.
 */
export function proxyAgents(proxyUrl: string): { http: HttpProxyAgent<string>; https: HttpsProxyAgent<string> } {
  const https = new HttpsProxyAgent(proxyUrl);
  https.on('proxyConnect', (connect: { statusCode?: number }, request: ClientRequest) => {
    if (connect.statusCode !== 200) request.destroy(new ProxyRefusedError(proxyUrl, request.host, connect.statusCode));
  });
  return { http: new HttpProxyAgent(proxyUrl), https };
}
