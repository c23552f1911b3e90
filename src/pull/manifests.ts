import type { Redactor } from '../core/output.ts';
import { isDockerHub, type ImageReference } from '../registry/reference.ts';
import type { Fetch, HttpResponse } from './http.ts';
import type { ImageLayers, PlannedLayer } from './plan.ts';
import { basicAuthorization, bearerChallenge, isLoopbackHost, MANIFEST_ACCEPT, mayCarryCredentials, parseChallenges, requestToken, withDeadline, type RegistryCredentials } from './registry-http.ts';
import { manifestPath, registryBases } from './wait-probe.ts';

/**
 * Each image's layers and compressed sizes, from its manifest (for a multi-platform index, the
 * platform's manifest), read the way docker reads it and with the credentials docker will send.
 * For the pull plan only: every failure is an unknown image, never an error, and everything ends
 * at the deadline. Docker Hub is not read: it counts every manifest GET as a pull.
 */
export const PLAN_DEADLINE_MS = 1000;

const MANIFEST_TYPES = new Set(['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json']);
const INDEX_TYPES = new Set(['application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json']);

export interface ManifestReadOptions {
  fetch: Fetch;
  redactor: Redactor;
  /** Per registry host, what docker sends there (from registerDockerCredentials). */
  credentials: ReadonlyMap<string, RegistryCredentials>;
  /** os/arch[/variant] to pick from an index; default the platform docker on this machine pulls. */
  platform: string | undefined;
  deadlineMs?: number;
}

/** What docker pulls by default here: linux and node's architecture in Go's words. */
export function defaultPlatform(arch: string = process.arch): string {
  const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return `linux/${goArch[arch] ?? arch}`;
}

/** All images at once, each within the deadline; order kept. */
export async function readImageLayers(images: readonly ImageReference[], options: ManifestReadOptions): Promise<ImageLayers[]> {
  const deadline = options.deadlineMs ?? PLAN_DEADLINE_MS;
  // One unknown image means no plan (plan.ts): then reading the others would be wasted requests.
  const hub = images.find(isDockerHub);
  if (hub !== undefined) return images.map(() => ({ known: false, reason: `${hub.normalized}: Docker Hub counts a manifest read as a pull` }));
  return Promise.all(
    images.map(async (ref): Promise<ImageLayers> => {
      const result = await withDeadline(deadline, (signal) => readOne(ref, options, signal));
      if (result.ok) return result.value;
      return { known: false, reason: `${ref.normalized}: ${result.timedOut ? `no manifest within ${deadline} ms` : 'manifest not readable'}` };
    }),
  );
}

async function readOne(ref: ImageReference, options: ManifestReadOptions, signal: AbortSignal): Promise<ImageLayers> {
  const unknown = (why: string): ImageLayers => ({ known: false, reason: `${ref.normalized}: ${why}` });
  for (const base of registryBases(ref, '')) {
    const insecureTls = isLoopbackHost(new URL(base).hostname);
    const get = (path: string, authorization: string | undefined): Promise<HttpResponse> =>
      options.fetch(`${base}${path}`, { method: 'GET', headers: { accept: MANIFEST_ACCEPT, ...(authorization === undefined ? {} : { authorization }) }, signal, ...(insecureTls ? { insecureTls } : {}) });
    let response: HttpResponse;
    try {
      response = await get(manifestPath(ref), undefined);
    } catch {
      if (signal.aborted) return unknown('no answer');
      // TLS refused: a loopback registry may speak plain http, as docker then tries.
      continue;
    }
    let authorization: string | undefined;
    if (response.status === 401) {
      authorization = await answerChallenge(response, `${base}${manifestPath(ref)}`, ref, options, signal);
      if (authorization === undefined) return unknown('the registry wants credentials regauth could not use');
      response = await get(manifestPath(ref), authorization);
    }
    if (response.status !== 200) return unknown(`HTTP ${response.status}`);
    const first = parseManifest(await response.text(), response.headers.get('content-type'));
    const firstDigest = response.headers.get('docker-content-digest') ?? ref.digest;
    if (first.kind === 'manifest') return { known: true, layers: first.layers, manifestDigests: firstDigest === undefined ? [] : [firstDigest] };
    if (first.kind === 'odd') return unknown(first.reason);
    const digest = pickPlatform(first.entries, options.platform ?? defaultPlatform());
    if (digest === undefined) return unknown('no manifest for the platform');
    const platformResponse = await get(`/v2/${ref.path}/manifests/${digest}`, authorization);
    if (platformResponse.status !== 200) return unknown(`HTTP ${platformResponse.status}`);
    const second = parseManifest(await platformResponse.text(), platformResponse.headers.get('content-type'));
    return second.kind === 'manifest' ? { known: true, layers: second.layers, manifestDigests: [digest, ...(firstDigest === undefined ? [] : [firstDigest])] } : unknown(second.kind === 'odd' ? second.reason : 'an index inside an index');
  }
  return unknown('no connection');
}

async function answerChallenge(challenged: HttpResponse, url: string, ref: ImageReference, options: ManifestReadOptions, signal: AbortSignal): Promise<string | undefined> {
  const challenges = parseChallenges(challenged.headers.get('www-authenticate'));
  const credentials = options.credentials.get(ref.domain);
  const bearer = bearerChallenge(challenges);
  if (bearer !== undefined) {
    const basic = credentials !== undefined && mayCarryCredentials(bearer.realm) ? basicAuthorization(credentials, options.redactor) : undefined;
    const token = await requestToken(options.fetch, bearer.realm, { service: bearer.service, scope: bearer.scope ?? `repository:${ref.path}:pull`, authorization: basic }, options.redactor, signal);
    return token.ok ? `Bearer ${token.token}` : undefined;
  }
  if (challenges.some((challenge) => challenge.scheme === 'basic') && credentials !== undefined && mayCarryCredentials(new URL(url))) return basicAuthorization(credentials, options.redactor);
  return undefined;
}

export interface IndexEntry {
  digest: string;
  platform: string | undefined;
}

export type ParsedManifest = { kind: 'manifest'; layers: PlannedLayer[] } | { kind: 'index'; entries: IndexEntry[] } | { kind: 'odd'; reason: string };

/** A manifest or index body → its layers or platform entries. Pure; anything unexpected is `odd`. */
export function parseManifest(body: string, contentType: string | null): ParsedManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'odd', reason: 'the manifest is not JSON' };
  }
  if (!isRecord(parsed)) return { kind: 'odd', reason: 'the manifest is not an object' };
  const type = (typeof parsed.mediaType === 'string' ? parsed.mediaType : (contentType ?? '').split(';')[0]?.trim()) ?? '';
  if (INDEX_TYPES.has(type) || (type === '' && Array.isArray(parsed.manifests))) {
    const entries: IndexEntry[] = [];
    for (const entry of Array.isArray(parsed.manifests) ? parsed.manifests : []) {
      if (!isRecord(entry) || typeof entry.digest !== 'string' || !DIGEST.test(entry.digest)) continue;
      const platform = isRecord(entry.platform) && typeof entry.platform.os === 'string' && typeof entry.platform.architecture === 'string'
        ? [entry.platform.os, entry.platform.architecture, ...(typeof entry.platform.variant === 'string' ? [entry.platform.variant] : [])].join('/').toLowerCase()
        : undefined;
      entries.push({ digest: entry.digest, platform });
    }
    return { kind: 'index', entries };
  }
  if (!MANIFEST_TYPES.has(type) && !(type === '' && Array.isArray(parsed.layers))) return { kind: 'odd', reason: `media type ${/^[\w.+/-]{1,80}$/.test(type) ? type : '(unreadable)'}` };
  const layers: PlannedLayer[] = [];
  for (const layer of Array.isArray(parsed.layers) ? parsed.layers : []) {
    if (!isRecord(layer) || typeof layer.digest !== 'string' || !DIGEST.test(layer.digest) || typeof layer.size !== 'number' || !Number.isSafeInteger(layer.size) || layer.size < 0) {
      return { kind: 'odd', reason: 'a layer without digest or size' };
    }
    layers.push({ digest: layer.digest, size: layer.size });
  }
  return { kind: 'manifest', layers };
}

/** The entry for `platform` (os/arch[/variant]); arm64 without a variant matches arm64/v8. Pure. */
export function pickPlatform(entries: readonly IndexEntry[], platform: string): string | undefined {
  const [os, arch, variant] = platform.split('/');
  const matches = entries.filter((entry) => {
    const [entryOs, entryArch, entryVariant] = (entry.platform ?? '').split('/');
    return entryOs === os && entryArch === arch && (variant === undefined || entryVariant === variant || (variant === 'v8' && entryVariant === undefined));
  });
  return matches[0]?.digest;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
