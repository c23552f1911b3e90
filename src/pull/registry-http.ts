import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redactor } from '../core/output.ts';
import { dockerConfigDir } from '../docker/config.ts';
import type { Fetch, HttpResponse } from './http.ts';

/**
 * Talking to a registry's HTTP API directly, for the two things docker does not tell regauth:
 * Docker Hub's pull budget and a registry's stated wait (Retry-After). Challenge parsing, token
 * requests and the docker config's saved logins live here once; callers add only their questions.
 */

/** What docker accepts for a manifest: a HEAD with these answers as docker's own would. */
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

export interface Challenge {
  /** Lower case: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names in lower case, values unquoted. */
  params: Record<string, string>;
}

/**
 * `WWW-Authenticate` → its challenges (RFC 9110 §11.6.1): `Bearer realm="…",service="…"`, several
 * separated by commas. Pure; a malformed header yields what could be read before the fault.
 */
export function parseChallenges(header: string | null | undefined): Challenge[] {
  if (header === null || header === undefined) return [];
  const challenges: Challenge[] = [];
  let rest = header;
  let current: Challenge | undefined;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    if (rest === '') break;
    const param = /^([!#$%&'*+.^_`|~\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)/.exec(rest);
    if (param?.[1] !== undefined && param[2] !== undefined && current !== undefined) {
      const raw = param[2];
      current.params[param[1].toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
      rest = rest.slice(param[0].length);
      continue;
    }
    const scheme = /^([!#$%&'*+.^_`|~\w-]+)(?=\s|,|$)/.exec(rest);
    if (scheme?.[1] === undefined) break;
    current = { scheme: scheme[1].toLowerCase(), params: {} };
    challenges.push(current);
    rest = rest.slice(scheme[0].length);
  }
  return challenges;
}

export interface BearerChallenge {
  realm: URL;
  service: string | undefined;
  scope: string | undefined;
}

/** The first usable Bearer challenge: its realm must be an http(s) URL without credentials. */
export function bearerChallenge(challenges: readonly Challenge[]): BearerChallenge | undefined {
  for (const challenge of challenges) {
    if (challenge.scheme !== 'bearer' || challenge.params.realm === undefined) continue;
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm);
    } catch {
      continue;
    }
    if ((realm.protocol !== 'https:' && realm.protocol !== 'http:') || realm.username !== '' || realm.password !== '') continue;
    return { realm, service: challenge.params.service, scope: challenge.params.scope };
  }
  return undefined;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface SavedLogin {
  credentials: RegistryCredentials | undefined;
  /** Why none were read although the user may have logged in. */
  note: string | undefined;
}

/** The keys docker login stores Docker Hub under, old and new. */
export const DOCKER_HUB_CONFIG_KEYS = [
  'https://index.docker.io/v1/',
  'https://index.docker.io/v1',
  'index.docker.io',
  'docker.io',
  'registry-1.docker.io',
  'https://registry-1.docker.io',
] as const;

/** Where docker keeps a login for `domain` (host[:port] as in an image reference). */
export function configKeysFor(domain: string): readonly string[] {
  if (domain === 'docker.io' || domain === 'index.docker.io' || domain === 'registry-1.docker.io') return DOCKER_HUB_CONFIG_KEYS;
  return [domain, `https://${domain}`, `http://${domain}`];
}

/**
 * The login saved under one of `keys` in a parsed docker config.json: the `auths` entry's base64
 * `auth`. Credentials kept by a helper (credsStore / credHelpers) are not read: that would run
 * a program for a best-effort question.
 */
export function savedLogin(config: unknown, keys: readonly string[]): SavedLogin {
  const root = isRecord(config) ? config : {};
  const auths = isRecord(root.auths) ? root.auths : {};
  for (const key of keys) {
    const entry = auths[key];
    if (!isRecord(entry) || typeof entry.auth !== 'string' || entry.auth === '') continue;
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) continue;
    return { credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }, note: undefined };
  }
  const helpers = isRecord(root.credHelpers) ? root.credHelpers : {};
  const helper = keys.some((key) => typeof helpers[key] === 'string') || typeof root.credsStore === 'string';
  return { credentials: undefined, note: helper ? 'credentials in a credential helper are not read' : undefined };
}

export type ReadConfig = (path: string) => Promise<string>;

/** $DOCKER_CONFIG/config.json (else ~/.docker), looked up for `keys`. Never throws. */
export async function loadSavedLogin(
  env: Readonly<Record<string, string | undefined>>,
  keys: readonly string[],
  readConfig: ReadConfig = (path) => readFile(path, 'utf8'),
): Promise<SavedLogin> {
  let text: string;
  try {
    text = await readConfig(join(dockerConfigDir(env), 'config.json'));
  } catch {
    return { credentials: undefined, note: undefined };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { credentials: undefined, note: 'the docker config is not valid JSON' };
  }
  return savedLogin(parsed, keys);
}

/** Basic credentials only over TLS, or to this machine (a test or a local proxy). */
export function mayCarryCredentials(url: URL): boolean {
  return url.protocol === 'https:' || isLoopbackHost(url.hostname);
}

/** 127.0.0.0/8, ::1 and localhost: docker treats registries there as insecure. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `Basic …` for the credentials; both the password and the header value become secrets. */
export function basicAuthorization(credentials: RegistryCredentials, redactor: Redactor): string {
  redactor.add(credentials.password);
  const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
  redactor.add(basic);
  return `Basic ${basic}`;
}

/** noToken: the service answered 200 without a token in its body. */
export type TokenResult = { ok: true; token: string } | { ok: false; status: number; noToken: boolean };

/**
 * A bearer token from `realm` for `service` and `scope` (GET, as docker asks for pull tokens).
 * The token is registered with the redactor before it is returned.
 */
export async function requestToken(
  fetch: Fetch,
  realm: URL,
  request: { service: string | undefined; scope: string | undefined; authorization: string | undefined },
  redactor: Redactor,
  signal: AbortSignal,
): Promise<TokenResult> {
  const url = new URL(realm);
  if (request.service !== undefined) url.searchParams.set('service', request.service);
  if (request.scope !== undefined) url.searchParams.set('scope', request.scope);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.authorization !== undefined) headers.authorization = request.authorization;
  const insecure = url.protocol === 'https:' && isLoopbackHost(url.hostname) ? { insecureTls: true } : {};
  const response = await fetch(url.toString(), { method: 'GET', headers, signal, ...insecure });
  if (response.status !== 200) return { ok: false, status: response.status, noToken: false };
  const token = tokenFrom(await response.text());
  if (token === undefined) return { ok: false, status: 200, noToken: true };
  redactor.add(token);
  return { ok: true, token };
}

/** HEAD of a manifest, the way docker resolves a tag (a HEAD does not count as a Docker Hub pull). */
export function headManifest(fetch: Fetch, url: string, authorization: string | undefined, signal: AbortSignal, insecureTls = false): Promise<HttpResponse> {
  const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
  if (authorization !== undefined) headers.authorization = authorization;
  return fetch(url, { method: 'HEAD', headers, signal, ...(insecureTls ? { insecureTls } : {}) });
}

export function tokenFrom(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (!isRecord(parsed)) return undefined;
    const token = parsed.token ?? parsed.access_token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

export type Deadline<T> = { ok: true; value: T } | { ok: false; timedOut: true } | { ok: false; timedOut: false; error: unknown };

/**
 * Runs `work` with an abort signal that fires after `timeoutMs`, and stops waiting then even
 * if the transport ignores the signal. Never throws.
 */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<Deadline<T>> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  timer.unref();
  const aborted = new Promise<never>((_resolve, reject) => {
    controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return { ok: true, value: await Promise.race([work(controller.signal), aborted]) };
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, timedOut: true };
    return { ok: false, timedOut: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/** A network error's code (ENOTFOUND, ECONNREFUSED …) says enough, and holds no URL. */
export function describeError(error: unknown): string {
  const code = (value: unknown): string | undefined => (isRecord(value) && typeof value.code === 'string' ? value.code : undefined);
  const found = code(error) ?? (isRecord(error) ? code(error.cause) : undefined);
  if (found) return found;
  return error instanceof Error ? error.message : String(error);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
