import { ProxyAwareHttpHandler } from './http.ts';

/**
 * What every regauth SDK client shares: the region (the SDK resolves endpoints, FIPS,
 * dual-stack and AWS_ENDPOINT_URL* itself), no SDK retries (src/retry.ts retries), and a
 * handler that honours HTTPS_PROXY / NO_PROXY.
 */
export function sdkClientConfig(region: string): { region: string; maxAttempts: number; requestHandler: ProxyAwareHttpHandler } {
  // The SDK's multi-line "upgrade node" notice would land in every job log; node 20 is supported here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return { region, maxAttempts: 1, requestHandler: new ProxyAwareHttpHandler() };
}
