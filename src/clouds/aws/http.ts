import { NodeHttpHandler } from '@smithy/node-http-handler';
import { getProxyForUrl } from 'proxy-from-env';
import { proxyAgents } from '../../core/proxy.ts';

type HandleArgs = Parameters<NodeHttpHandler['handle']>;

export interface HttpTimeouts {
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { connectionTimeoutMs: 10_000, requestTimeoutMs: 30_000 };

/**
 * The SDK's node handler does not read HTTPS_PROXY / HTTP_PROXY / NO_PROXY. This one picks,
 * per request, the proxy proxy-from-env names for the request's URL (none when NO_PROXY
 * matches) and sends the request through a NodeHttpHandler using that proxy's agents.
 */
export class ProxyAwareHttpHandler extends NodeHttpHandler {
  private readonly byProxy = new Map<string, NodeHttpHandler>();

  constructor(private readonly timeouts: HttpTimeouts = DEFAULT_TIMEOUTS) {
    super({ connectionTimeout: timeouts.connectionTimeoutMs, requestTimeout: timeouts.requestTimeoutMs });
  }

  /** The proxy URL used for `url`, '' for a direct connection. */
  static proxyFor(url: string): string {
    return getProxyForUrl(url);
  }

  override handle(...[request, options]: HandleArgs): ReturnType<NodeHttpHandler['handle']> {
    const host = request.hostname.includes(':') && !request.hostname.startsWith('[') ? `[${request.hostname}]` : request.hostname;
    const url = `${request.protocol}//${host}${request.port ? `:${request.port}` : ''}${request.path}`;
    const proxy = getProxyForUrl(url);
    if (proxy === '') return super.handle(request, options);
    let handler = this.byProxy.get(proxy);
    if (!handler) {
      const agents = proxyAgents(proxy);
      handler = new NodeHttpHandler({
        connectionTimeout: this.timeouts.connectionTimeoutMs,
        requestTimeout: this.timeouts.requestTimeoutMs,
        httpAgent: agents.http,
        httpsAgent: agents.https,
      });
      this.byProxy.set(proxy, handler);
    }
    return handler.handle(request, options);
  }

  override destroy(): void {
    for (const handler of this.byProxy.values()) handler.destroy();
    this.byProxy.clear();
    super.destroy();
  }
}
