import type { Redactor } from '../core/output.ts';
import type { Fetch } from './http.ts';
import {
  basicAuthorization,
  describeError,
  DOCKER_HUB_CONFIG_KEYS,
  headManifest,
  loadSavedLogin,
  mayCarryCredentials,
  requestToken,
  savedLogin,
  withDeadline,
  type ReadConfig,
  type RegistryCredentials,
  type SavedLogin,
} from './registry-http.ts';

/**
 * Docker Hub's remaining pull budget, read the documented way: a token for
 * ratelimitpreview/test, then a HEAD of its manifest (a HEAD does not count as a pull).
 * Informational only: every failure becomes a line that says so, never a failed step.
 */
export const DOCKER_HUB_AUTH_URL = 'https://auth.docker.io/token';
export const DOCKER_HUB_REGISTRY_URL = 'https://registry-1.docker.io';
/** Overrides, for tests and for networks that reach Docker Hub through another name. */
export const AUTH_URL_ENV = 'REGAUTH_DOCKERHUB_AUTH_URL';
export const REGISTRY_URL_ENV = 'REGAUTH_DOCKERHUB_REGISTRY_URL';

const PREVIEW_REPOSITORY = 'ratelimitpreview/test';
const PREFIX = 'Docker Hub pull budget:';

export interface Quota {
  count: number;
  windowSeconds: number | undefined;
}

export interface RateLimit {
  limit: Quota | undefined;
  remaining: Quota | undefined;
  source: string | undefined;
}

/** `100;w=21600` → { count: 100, windowSeconds: 21600 }. */
export function parseQuota(value: string | null | undefined): Quota | undefined {
  if (value === null || value === undefined) return undefined;
  const match = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+)\s*)?(?:;.*)?$/.exec(value);
  if (!match?.[1]) return undefined;
  return { count: Number(match[1]), windowSeconds: match[2] === undefined ? undefined : Number(match[2]) };
}

export function parseRateLimit(headers: { get(name: string): string | null }): RateLimit {
  const source = headers.get('docker-ratelimit-source')?.trim();
  return {
    limit: parseQuota(headers.get('ratelimit-limit')),
    remaining: parseQuota(headers.get('ratelimit-remaining')),
    source: source === undefined || source === '' ? undefined : source,
  };
}

export type Identity = 'anonymous' | 'authenticated';

/** The line to print for a budget that was read. */
export function budgetLine(rate: RateLimit, identity: Identity, note?: string): string {
  const who = note === undefined ? identity : `${identity}, ${note}`;
  if (rate.limit === undefined && rate.remaining === undefined) return `${PREFIX} unlimited (${who}; Docker Hub sent no rate-limit headers)`;
  const remaining = rate.remaining?.count;
  const limit = rate.limit?.count;
  const window = rate.limit?.windowSeconds ?? rate.remaining?.windowSeconds;
  const amount = `${remaining ?? '?'} of ${limit ?? '?'}${window === undefined ? '' : ` per ${formatWindow(window)}`} left`;
  const source = rate.source === undefined ? '' : `, source ${rate.source}`;
  const warning =
    remaining === 0 ? '; pulls from Docker Hub will be refused (429) until the window moves on: log in with regauth/login or set mirror' : '';
  return `${PREFIX} ${amount} (${who}${source})${warning}`;
}

export function unreadableLine(reason: string): string {
  return `${PREFIX} could not be read (${reason}); continuing`;
}

export function formatWindow(seconds: number): string {
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export type HubCredentials = RegistryCredentials;

/** Docker Hub credentials from a parsed docker config.json (see savedLogin). */
export function hubCredentialsFromConfig(config: unknown): SavedLogin {
  return savedLogin(config, DOCKER_HUB_CONFIG_KEYS);
}

export interface BudgetOptions {
  env: Readonly<Record<string, string | undefined>>;
  fetch: Fetch;
  redactor: Redactor;
  /** Whole exchange, both requests. */
  timeoutMs?: number;
  /** Reads $DOCKER_CONFIG/config.json; injectable for tests. */
  readConfig?: ReadConfig;
}

/** Never throws: returns the line to print. */
export async function readDockerHubBudget(options: BudgetOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const result = await withDeadline(timeoutMs, (signal) => readBudget(options, signal));
  if (result.ok) return result.value;
  if (result.timedOut) return unreadableLine(`no answer within ${formatSeconds(timeoutMs)}`);
  return unreadableLine(describeError(result.error));
}

async function readBudget(options: BudgetOptions, signal: AbortSignal): Promise<string> {
  const authUrl = endpoint(options.env, AUTH_URL_ENV, DOCKER_HUB_AUTH_URL);
  const registryUrl = endpoint(options.env, REGISTRY_URL_ENV, DOCKER_HUB_REGISTRY_URL);
  if (typeof authUrl === 'string') return unreadableLine(authUrl);
  if (typeof registryUrl === 'string') return unreadableLine(registryUrl);

  const { credentials, note } = await loadSavedLogin(options.env, DOCKER_HUB_CONFIG_KEYS, options.readConfig);
  const withCredentials = credentials !== undefined && mayCarryCredentials(authUrl);
  const identity: Identity = withCredentials ? 'authenticated' : 'anonymous';
  const authorization = withCredentials ? basicAuthorization(credentials, options.redactor) : undefined;

  const token = await requestToken(
    options.fetch,
    authUrl,
    { service: 'registry.docker.io', scope: `repository:${PREVIEW_REPOSITORY}:pull`, authorization },
    options.redactor,
    signal,
  );
  if (!token.ok && token.noToken) return unreadableLine('the token service sent no token');
  if (!token.ok) {
    const hint = token.status === 401 && identity === 'authenticated' ? ', the saved Docker Hub credentials were refused' : '';
    return unreadableLine(`the token service answered HTTP ${token.status}${hint}`);
  }

  const manifestUrl = `${registryUrl.toString().replace(/\/+$/, '')}/v2/${PREVIEW_REPOSITORY}/manifests/latest`;
  const response = await headManifest(options.fetch, manifestUrl, `Bearer ${token.token}`, signal);
  const rate = parseRateLimit(response.headers);
  // An exhausted budget can come back as 429 and still carry the headers we want.
  const hasHeaders = rate.limit !== undefined || rate.remaining !== undefined;
  if (response.status !== 200 && !hasHeaders) return unreadableLine(`the registry answered HTTP ${response.status}`);
  return budgetLine(rate, identity, note);
}

function endpoint(env: BudgetOptions['env'], name: string, fallback: string): URL | string {
  const value = env[name]?.trim() || fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${name} is not a URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${name} must be an http or https URL`;
  if (url.username !== '' || url.password !== '') return `${name} must not contain credentials`;
  return url;
}

/** The Docker Hub registry URL, or the override's complaint. */
export function dockerHubRegistryUrl(env: BudgetOptions['env']): URL | string {
  return endpoint(env, REGISTRY_URL_ENV, DOCKER_HUB_REGISTRY_URL);
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

