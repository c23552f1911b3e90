import { ProxyAwareHttpHandler } from './http.ts';

/**
 * What every regauth SDK client shares: the region (the SDK resolves endpoints, FIPS,
 * dual-stack and AWS_ENDPOINT_URL* itself), no SDK retries (src/core/retry.ts retries), and a
 * handler that honours HTTPS_PROXY / NO_PROXY.
 */
export function sdkClientConfig(region: string): { region: string; maxAttempts: number; retryMode: 'standard'; requestHandler: ProxyAwareHttpHandler } {
  // The SDK's multi-line "upgrade node" notice would land in every job log; node 18 and up are supported here (the SDK warns on 18).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // retryMode fixed: a job's AWS_RETRY_MODE=adaptive would add the SDK's client-side rate limiter
  // on top of regauth's own retries.
  return { region, maxAttempts: 1, retryMode: 'standard', requestHandler: new ProxyAwareHttpHandler() };
}
