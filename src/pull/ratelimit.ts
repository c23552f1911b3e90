import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Redactor } from '../output.ts';
import type { Fetch } from './http.ts';

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

export interface HubCredentials {
  username: string;
  password: string;
}

const HUB_CONFIG_KEYS = ['https://index.docker.io/v1/', 'https://index.docker.io/v1', 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'https://registry-1.docker.io'];

/**
 * Docker Hub credentials from a parsed docker config.json: the `auths` entry's base64 `auth`.
 * Credentials kept by a helper (credsStore / credHelpers) are not read: that would run a
 * program for a line of information.
 */
export function hubCredentialsFromConfig(config: unknown): { credentials: HubCredentials | undefined; note: string | undefined } {
  const root = isRecord(config) ? config : {};
  const auths = isRecord(root.auths) ? root.auths : {};
  for (const key of HUB_CONFIG_KEYS) {
    const entry = auths[key];
    if (!isRecord(entry) || typeof entry.auth !== 'string' || entry.auth === '') continue;
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) continue;
    return { credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }, note: undefined };
  }
  const helpers = isRecord(root.credHelpers) ? root.credHelpers : {};
  const helper = HUB_CONFIG_KEYS.some((key) => typeof helpers[key] === 'string') || typeof root.credsStore === 'string';
  return { credentials: undefined, note: helper ? 'credentials in a credential helper are not read' : undefined };
}

export interface BudgetOptions {
  env: Readonly<Record<string, string | undefined>>;
  fetch: Fetch;
  redactor: Redactor;
  /** Whole exchange, both requests. */
  timeoutMs?: number;
  /** Reads $DOCKER_CONFIG/config.json; injectable for tests. */
  readConfig?: (path: string) => Promise<string>;
}

/** Never throws: returns the line to print. */
export async function readDockerHubBudget(options: BudgetOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  timer.unref();
  // A transport that ignores the signal must not hold the step either.
  const aborted = new Promise<never>((_resolve, reject) => {
    controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([readBudget(options, controller.signal), aborted]);
  } catch (error) {
    if (controller.signal.aborted) return unreadableLine(`no answer within ${formatSeconds(timeoutMs)}`);
    return unreadableLine(describeError(error));
  } finally {
    clearTimeout(timer);
  }
}

async function readBudget(options: BudgetOptions, signal: AbortSignal): Promise<string> {
  const authUrl = endpoint(options.env, AUTH_URL_ENV, DOCKER_HUB_AUTH_URL);
  const registryUrl = endpoint(options.env, REGISTRY_URL_ENV, DOCKER_HUB_REGISTRY_URL);
  if (typeof authUrl === 'string') return unreadableLine(authUrl);
  if (typeof registryUrl === 'string') return unreadableLine(registryUrl);

  const { credentials, note } = await loadCredentials(options);
  const headers: Record<string, string> = { accept: 'application/json' };
  let identity: Identity = 'anonymous';
  if (credentials !== undefined && mayCarryCredentials(authUrl)) {
    options.redactor.add(credentials.password);
    const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    options.redactor.add(basic);
    headers.authorization = `Basic ${basic}`;
    identity = 'authenticated';
  }

  const tokenUrl = new URL(authUrl);
  tokenUrl.searchParams.set('service', 'registry.docker.io');
  tokenUrl.searchParams.set('scope', `repository:${PREVIEW_REPOSITORY}:pull`);
  const tokenResponse = await options.fetch(tokenUrl.toString(), { method: 'GET', headers, signal });
  if (tokenResponse.status !== 200) {
    const hint = tokenResponse.status === 401 && identity === 'authenticated' ? ', the saved Docker Hub credentials were refused' : '';
    return unreadableLine(`the token service answered HTTP ${tokenResponse.status}${hint}`);
  }
  const token = tokenFrom(await tokenResponse.text());
  if (token === undefined) return unreadableLine('the token service sent no token');
  options.redactor.add(token);

  const manifestUrl = `${registryUrl.toString().replace(/\/+$/, '')}/v2/${PREVIEW_REPOSITORY}/manifests/latest`;
  const response = await options.fetch(manifestUrl, {
    method: 'HEAD',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json',
    },
    signal,
  });
  const rate = parseRateLimit(response.headers);
  // An exhausted budget can come back as 429 and still carry the headers we want.
  const hasHeaders = rate.limit !== undefined || rate.remaining !== undefined;
  if (response.status !== 200 && !hasHeaders) return unreadableLine(`the registry answered HTTP ${response.status}`);
  return budgetLine(rate, identity, note);
}

async function loadCredentials(options: BudgetOptions): Promise<{ credentials: HubCredentials | undefined; note: string | undefined }> {
  const dir = options.env.DOCKER_CONFIG || join(options.env.HOME || homedir(), '.docker');
  let text: string;
  try {
    text = await (options.readConfig ?? ((path: string) => readFile(path, 'utf8')))(join(dir, 'config.json'));
  } catch {
    return { credentials: undefined, note: undefined };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { credentials: undefined, note: 'the docker config is not valid JSON' };
  }
  return hubCredentialsFromConfig(parsed);
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

/** Basic credentials only over TLS, or to this machine (a test or a local proxy). */
function mayCarryCredentials(url: URL): boolean {
  return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function tokenFrom(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (!isRecord(parsed)) return undefined;
    const token = parsed.token ?? parsed.access_token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

/** A network error's code (ENOTFOUND, ECONNREFUSED …) says enough, and holds no URL. */
function describeError(error: unknown): string {
  const code = (value: unknown): string | undefined =>
    isRecord(value) && typeof value.code === 'string' ? value.code : undefined;
  const found = code(error) ?? (isRecord(error) ? code(error.cause) : undefined);
  if (found) return found;
  return error instanceof Error ? error.message : String(error);
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
