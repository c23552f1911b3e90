import { describe, expect, it } from 'vitest';
import { defaultPlatform, parseManifest, pickPlatform } from '../../../src/pull/manifests.ts';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

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
