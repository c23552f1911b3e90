import { describe, expect, it } from 'vitest';
import { defaultPlatform, parseManifest, pickPlatform } from '../../src/pull/manifests.ts';
import { planPulls, presentLayersOf, type ImageLayers } from '../../src/pull/plan.ts';
import { planLine, transferLine, type PullOutcome } from '../../src/pull/summary.ts';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const image = (...layers: [number, number][]): ImageLayers => ({ known: true, layers: layers.map(([id, size]) => ({ digest: d(id), size })) });
const MB = 1_000_000;

describe('planPulls', () => {
  it('starts the image with the biggest layer first, then by bytes left; equal work keeps the given order', () => {
    const plan = planPulls([image([1, 1 * MB]), image([2, 3 * MB]), image([3, 1 * MB]), image([4, 48 * MB], [5, 1 * MB])]);
    expect(plan.planned).toBe(true);
    expect(plan.order).toEqual([3, 1, 0, 2]);
    expect(plan.bytes).toBe(54 * MB);
  });

  it('counts a shared layer once, for the first image that fetches it', () => {
    const base: [number, number] = [100, 30 * MB];
    // b and c share a 30 MB base; a has one 20 MB layer. After b claims the base, c has 2 MB left.
    const plan = planPulls([image([1, 20 * MB]), image(base, [2, 5 * MB]), image(base, [3, 2 * MB])]);
    expect(plan.order).toEqual([1, 0, 2]);
    expect(plan.sharedLayers).toBe(1);
    expect(plan.bytes).toBe(57 * MB);
    expect(plan.bytesByImage).toEqual([20 * MB, 35 * MB, 2 * MB]);
  });

  it('leaves out layers the engine holds, so an image whose big layer is present goes last', () => {
    const plan = planPulls([image([1, 5 * MB]), image([2, 40 * MB], [3, 1 * MB])], new Set([d(2)]));
    expect(plan.order).toEqual([0, 1]);
    expect(plan.bytes).toBe(6 * MB);
    expect(plan.presentLayers).toBe(1);
  });

  it('keeps the user order, unplanned, when any manifest is missing', () => {
    const plan = planPulls([image([1, 1 * MB]), { known: false, reason: 'r.example/b:1: HTTP 503' }, image([2, 50 * MB])]);
    expect(plan).toMatchObject({ order: [0, 1, 2], planned: false, reason: 'r.example/b:1: HTTP 503', bytes: undefined });
  });

  it('a layer named twice in one manifest counts once', () => {
    expect(planPulls([image([1, 2 * MB], [1, 2 * MB])]).bytes).toBe(2 * MB);
  });

  it('presentLayersOf takes every layer of an image whose index or platform digest the engine holds', () => {
    const held: ImageLayers = { known: true, layers: [{ digest: d(7), size: 1 }], manifestDigests: [d(70), d(71)] };
    const other: ImageLayers = { known: true, layers: [{ digest: d(8), size: 1 }], manifestDigests: [d(80)] };
    expect([...presentLayersOf([held, other, { known: false, reason: 'x' }], new Set([d(71)]))]).toEqual([d(7)]);
  });
});

describe('manifests', () => {
  it('reads layers of docker and OCI manifests, entries of an index, and refuses odd media types', () => {
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [{ digest: d(1), size: 12 }] });
    expect(parseManifest(manifest, null)).toEqual({ kind: 'manifest', layers: [{ digest: d(1), size: 12 }] });
    const noType = JSON.stringify({ schemaVersion: 2, layers: [{ digest: d(2), size: 3 }] });
    expect(parseManifest(noType, 'application/vnd.docker.distribution.manifest.v2+json')).toEqual({ kind: 'manifest', layers: [{ digest: d(2), size: 3 }] });
    const index = JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ digest: d(3), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, { digest: d(4), platform: { os: 'linux', architecture: 'amd64' } }] });
    const parsed = parseManifest(index, null);
    expect(parsed).toEqual({ kind: 'index', entries: [{ digest: d(3), platform: 'linux/arm64/v8' }, { digest: d(4), platform: 'linux/amd64' }] });
    expect(parseManifest(JSON.stringify({ schemaVersion: 1, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws', fsLayers: [] }), null)).toMatchObject({ kind: 'odd' });
    expect(parseManifest(JSON.stringify({ mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [{ digest: d(1) }] }), null)).toMatchObject({ kind: 'odd' });
    expect(parseManifest('<html>', null)).toMatchObject({ kind: 'odd' });
    // The registry's words reach a line only when they look like a media type.
    expect(parseManifest(JSON.stringify({ mediaType: 'x\u001b[31mred', layers: [] }), null)).toEqual({ kind: 'odd', reason: 'media type (unreadable)' });
    if (parsed.kind !== 'index') throw new Error('index expected');
    expect(pickPlatform(parsed.entries, 'linux/amd64')).toBe(d(4));
    expect(pickPlatform(parsed.entries, 'linux/arm64')).toBe(d(3));
    expect(pickPlatform(parsed.entries, 'windows/amd64')).toBeUndefined();
    expect(defaultPlatform('x64')).toBe('linux/amd64');
  });
});

describe('the summary line', () => {
  const ok = (image: string, extra: Partial<Extract<PullOutcome, { ok: true }>> = {}): PullOutcome => ({ ok: true, image, digest: undefined, seconds: 1, attempts: 1, source: 'registry', note: undefined, ...extra });
  it('says bytes, wall time and rate in the unit style', () => {
    expect(transferLine([ok('a'), ok('b')], 9_100, { bytes: 152_300_000, from: 'docker' })).toBe('regauth: downloaded 152.3 MB in 9.1 s (16.7 MB/s)');
    expect(transferLine([ok('a')], 2_000, { bytes: 4_000_000, from: 'manifests' })).toBe('regauth: downloaded about 4.00 MB in 2.0 s (2.00 MB/s)');
  });
  it('calls a pull that changed nothing a no-op, with no bytes', () => {
    expect(transferLine([ok('a', { upToDate: true }), ok('b', { source: 'present' })], 400, { bytes: 0, from: 'docker' })).toBe('regauth: nothing downloaded in 0.4 s: every image was already up to date');
  });
  it('the plan line names the order and what was counted once', () => {
    expect(planLine({ planned: true, reason: undefined, bytes: 57 * MB, sharedLayers: 1, presentLayers: 0, reordered: true })).toBe('regauth: pull plan: biggest download first; 57.0 MB to download, 1 shared layer counted once');
  });
});
