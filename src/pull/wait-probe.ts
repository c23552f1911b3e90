import type { Redactor } from '../core/output.ts';
import { isDockerHub, type ImageReference } from '../registry/reference.ts';
import { parseRetryAfter } from '../core/retry.ts';
import type { Fetch, HttpResponse } from './http.ts';
import { dockerHubRegistryUrl } from './ratelimit.ts';
import {
  basicAuthorization,
  bearerChallenge,
  configKeysFor,
  headManifest,
  isLoopbackHost,
  loadSavedLogin,
  mayCarryCredentials,
  parseChallenges,
  requestToken,
  withDeadline,
  type ReadConfig,
} from './registry-http.ts';

/**
 * How long a registry that refused a pull (429 / 503) asks us to wait. docker's error text drops
 * the Retry-After header, so regauth asks the registry itself: a HEAD of the same manifest, as
 * docker would send it (with a token when the registry challenges). Best effort: any failure,
 * or no answer within the timeout, means "no stated wait" and ordinary backoff applies.
 */
export type WaitProbe = (ref: ImageReference) => Promise<number | undefined>;

export const PROBE_TIMEOUT_MS = 2000;

export interface WaitProbeOptions {
  env: Readonly<Record<string, string | undefined>>;
  fetch: Fetch;
  redactor: Redactor;
  /** Milliseconds, for an HTTP-date Retry-After. */
  now: () => number;
  timeoutMs?: number;
  readConfig?: ReadConfig;
}

/** The wait an answer states. Only 429 and 503 make Retry-After a request to wait. Pure. */
export function statedWait(status: number, retryAfter: string | null, now: number): number | undefined {
  if (status !== 429 && status !== 503) return undefined;
  return parseRetryAfter(retryAfter ?? undefined, now);
}

/**
 * Base URLs to try, in order: https; then http for loopback registries, which docker treats
 * as insecure. Docker Hub's API lives on another host than its name (or REGAUTH_DOCKERHUB_REGISTRY_URL). Pure.
 */
export function registryBases(ref: ImageReference, hubRegistry: URL | string): string[] {
  if (isDockerHub(ref)) return typeof hubRegistry === 'string' ? [] : [hubRegistry.toString().replace(/\/+$/, '')];
  const hostname = ref.domain.startsWith('[') ? ref.domain.slice(0, ref.domain.indexOf(']') + 1) : ref.domain.replace(/:\d+$/, '');
  return isLoopbackHost(hostname) ? [`https://${ref.domain}`, `http://${ref.domain}`] : [`https://${ref.domain}`];
}

/** `/v2/<repository>/manifests/<digest or tag>`: what docker resolves for this reference. Pure. */
export function manifestPath(ref: ImageReference): string {
  return `/v2/${ref.path}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`;
}

export function registryWaitProbe(options: WaitProbeOptions): WaitProbe {
  // The base that answered last time, per registry: an insecure registry is asked over http at once.
  const answered = new Map<string, string>();
  return async (ref) => {
    const result = await withDeadline(options.timeoutMs ?? PROBE_TIMEOUT_MS, (signal) => probe(ref, options, answered, signal));
    return result.ok ? result.value : undefined;
  };
}

async function probe(ref: ImageReference, options: WaitProbeOptions, answered: Map<string, string>, signal: AbortSignal): Promise<number | undefined> {
  const bases = registryBases(ref, dockerHubRegistryUrl(options.env));
  const known = answered.get(ref.domain);
  const candidates = known === undefined ? bases : [known, ...bases.filter((base) => base !== known)];
  for (const base of candidates) {
    const url = `${base}${manifestPath(ref)}`;
    const insecureTls = isLoopbackHost(new URL(url).hostname);
    let first: HttpResponse;
    try {
      first = await headManifest(options.fetch, url, undefined, signal, insecureTls);
    } catch {
      // TLS or connection failure: an insecure registry may speak plain http.
      if (signal.aborted) return undefined;
      continue;
    }
    answered.set(ref.domain, base);
    if (first.status !== 401) return statedWait(first.status, first.headers.get('retry-after'), options.now());
    const authorization = await authorizationFor(first, url, ref, options, signal);
    if (authorization === undefined) return undefined;
    const second = await headManifest(options.fetch, url, authorization, signal, insecureTls);
    return statedWait(second.status, second.headers.get('retry-after'), options.now());
  }
  return undefined;
}

/** Answers the registry's challenge as docker would: a token from the realm, or Basic. */
async function authorizationFor(
  challenged: HttpResponse,
  url: string,
  ref: ImageReference,
  options: WaitProbeOptions,
  signal: AbortSignal,
): Promise<string | undefined> {
  const challenges = parseChallenges(challenged.headers.get('www-authenticate'));
  const { credentials } = await loadSavedLogin(options.env, configKeysFor(ref.domain), options.readConfig);
  const bearer = bearerChallenge(challenges);
  if (bearer !== undefined) {
    const basic = credentials !== undefined && mayCarryCredentials(bearer.realm) ? basicAuthorization(credentials, options.redactor) : undefined;
    const scope = bearer.scope ?? `repository:${ref.path}:pull`;
    const token = await requestToken(options.fetch, bearer.realm, { service: bearer.service, scope, authorization: basic }, options.redactor, signal);
    return token.ok ? `Bearer ${token.token}` : undefined;
  }
  const basicChallenge = challenges.some((challenge) => challenge.scheme === 'basic');
  if (basicChallenge && credentials !== undefined && mayCarryCredentials(new URL(url))) return basicAuthorization(credentials, options.redactor);
  return undefined;
}
