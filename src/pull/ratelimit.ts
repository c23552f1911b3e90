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

/**
 * The line to print for a budget that was read: what is left, the window in hours, and whose
 * budget it is (anonymous pulls count against the job's IP address, logged-in ones against
 * the account). Pure.
 */
export function budgetLine(rate: RateLimit, identity: Identity, note?: string): string {
  const whose = identity === 'anonymous' ? "anonymous: counted against this job's IP address" : 'logged in: counted against the Docker Hub account';
  const who = note === undefined ? whose : `${whose}; ${note}`;
  if (rate.limit === undefined && rate.remaining === undefined) return `${PREFIX} unlimited (${who}; Docker Hub sent no rate-limit headers)`;
  const remaining = rate.remaining?.count;
  const limit = rate.limit?.count;
  const window = rate.limit?.windowSeconds ?? rate.remaining?.windowSeconds;
  const amount = `${remaining ?? '?'} of ${limit ?? '?'} pulls left${window === undefined ? '' : ` per ${formatWindow(window)}`}`;
  const source = rate.source === undefined ? '' : `, source ${rate.source}`;
  const warning =
    remaining === 0 ? '; pulls from Docker Hub will be refused (429) until the window moves on: log in with regauth/login or set mirror' : '';
  return `${PREFIX} ${amount} (${who}${source})${warning}`;
}

/**
 * The warning printed before pulling when the budget cannot cover the step: each image pulled
 * from Docker Hub counts once per architecture pulled. Undefined when it can. Pure.
 */
export function budgetWarning(remaining: number | undefined, hubPulls: number): string | undefined {
  if (remaining === undefined || hubPulls === 0 || remaining >= hubPulls) return undefined;
  const pulls = `${hubPulls} Docker Hub pull${hubPulls === 1 ? '' : 's'}`;
  return `warning: ${PREFIX} only ${remaining} left and this step makes ${pulls} (one per image and architecture): ${hubPulls - remaining} may be refused (429 toomanyrequests); log in with regauth/login (a higher limit) or set mirror`;
}

export function unreadableLine(reason: string): string {
  return `${PREFIX} could not be read (${reason}); continuing`;
}

/** The window in hours, as Docker Hub's limits are stated: `6 hours`, `1 hour`, `0.5 hours`. Pure. */
export function formatWindow(seconds: number): string {
  if (seconds >= 3600) {
    const hours = Number((seconds / 3600).toFixed(2));
    return hours === 1 ? '1 hour' : `${hours} hours`;
  }
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
  return (await readDockerHubBudgetReading(options)).line;
}

export interface BudgetReading {
  line: string;
  /** Pulls left in the window; undefined when unlimited or unread. */
  remaining: number | undefined;
}

/** Never throws: the line to print, and the pulls left when Docker Hub said. */
export async function readDockerHubBudgetReading(options: BudgetOptions): Promise<BudgetReading> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const result = await withDeadline(timeoutMs, (signal) => readBudget(options, signal));
  if (result.ok) return result.value;
  if (result.timedOut) return { line: unreadableLine(`no answer within ${formatSeconds(timeoutMs)}`), remaining: undefined };
  return { line: unreadableLine(describeError(result.error)), remaining: undefined };
}

async function readBudget(options: BudgetOptions, signal: AbortSignal): Promise<BudgetReading> {
  const unread = (reason: string): BudgetReading => ({ line: unreadableLine(reason), remaining: undefined });
  const authUrl = endpoint(options.env, AUTH_URL_ENV, DOCKER_HUB_AUTH_URL);
  const registryUrl = endpoint(options.env, REGISTRY_URL_ENV, DOCKER_HUB_REGISTRY_URL);
  if (typeof authUrl === 'string') return unread(authUrl);
  if (typeof registryUrl === 'string') return unread(registryUrl);

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
  if (!token.ok && token.noToken) return unread('the token service sent no token');
  if (!token.ok) {
    const hint = token.status === 401 && identity === 'authenticated' ? ', the saved Docker Hub credentials were refused' : '';
    return unread(`the token service answered HTTP ${token.status}${hint}`);
  }

  const manifestUrl = `${registryUrl.toString().replace(/\/+$/, '')}/v2/${PREVIEW_REPOSITORY}/manifests/latest`;
  const response = await headManifest(options.fetch, manifestUrl, `Bearer ${token.token}`, signal);
  const rate = parseRateLimit(response.headers);
  // An exhausted budget can come back as 429 and still carry the headers we want.
  const hasHeaders = rate.limit !== undefined || rate.remaining !== undefined;
  if (response.status !== 200 && !hasHeaders) return unread(`the registry answered HTTP ${response.status}`);
  return { line: budgetLine(rate, identity, note), remaining: rate.remaining?.count };
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

