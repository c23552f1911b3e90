/**
 * Seeds a registry with small, distinct, reproducible images — no network, no daemon: an OCI
 * layout is built in memory (busybox rootfs layer + a per-seed layer) and pushed with skopeo.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runProcess } from '../src/core/process.ts';
import { firstCredentials, type RegistryEndpoint } from './registry.ts';
import { makeTempDir } from './tempdir.ts';

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode?: number;
  data?: Buffer;
  linkname?: string;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A ustar archive with fixed owner, group and mtime, so equal input gives equal bytes. */
export function ustar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (Buffer.byteLength(entry.name) > 99) throw new Error(`tar entry name too long: ${entry.name}`);
    const data = entry.type === 'file' ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100, 'utf8');
    header.write(octal(entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644), 8), 100, 'ascii');
    header.write(octal(0, 8), 108, 'ascii'); // uid
    header.write(octal(0, 8), 116, 'ascii'); // gid
    header.write(octal(data.length, 12), 124, 'ascii');
    header.write(octal(0, 12), 136, 'ascii'); // mtime
    header.write(' '.repeat(8), 148, 'ascii'); // checksum placeholder
    header.write(entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2', 156, 'ascii');
    if (entry.linkname) header.write(entry.linkname, 157, 100, 'utf8');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    header.write('root', 265, 32, 'ascii');
    header.write('root', 297, 32, 'ascii');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    parts.push(header, data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** `size` bytes of incompressible data determined by `seed` alone (AES-256-CTR keystream). */
export function fillerBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(`regauth-filler:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface Layer {
  /** The gzip blob as stored in the registry. */
  blob: Buffer;
  digest: string;
  /** Digest of the uncompressed tar (the config's diff_id). */
  diffId: string;
}

export function makeLayer(entries: readonly TarEntry[], level = 6): Layer {
  const tar = ustar(entries);
  // Node's gzip header carries no name and mtime 0: the blob is reproducible.
  const blob = gzipSync(tar, { level });
  return { blob, digest: sha256(blob), diffId: sha256(tar) };
}

let busyboxLayer: Layer | undefined;

/** /bin/busybox (busybox-static) plus /bin/sh; built once per process. */
export function baseLayer(): Layer {
  busyboxLayer ??= makeLayer([
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync('/bin/busybox') },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
  ]);
  return busyboxLayer;
}

/** The layer that makes an image distinct: a seed file and optional incompressible filler. */
export function seedLayer(seed: string, sizeBytes: number): Layer {
  const entries: TarEntry[] = [
    { name: 'regauth/', type: 'dir' },
    { name: 'regauth/seed', type: 'file', data: Buffer.from(`${seed}\n`) },
  ];
  if (sizeBytes > 0) entries.push({ name: 'regauth/filler', type: 'file', data: fillerBytes(seed, sizeBytes) });
  // Random data does not compress; level 1 saves time for the same size.
  return makeLayer(entries, 1);
}

const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface OciImage {
  blobs: Map<string, Buffer>;
  manifest: Buffer;
  manifestDigest: string;
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** Config and manifest for the given layers (pure). */
export function ociImage(layers: readonly Layer[], seed: string): OciImage {
  const config = Buffer.from(
    JSON.stringify({
      created: '1970-01-01T00:00:00Z',
      architecture: goArch(),
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], Labels: { 'org.regauth.test.seed': seed } },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
      layers: layers.map((layer) => ({ mediaType: MEDIA.layer, digest: layer.digest, size: layer.blob.length })),
    }),
  );
  const blobs = new Map<string, Buffer>([[configDigest, config]]);
  for (const layer of layers) blobs.set(layer.digest, layer.blob);
  return { blobs, manifest, manifestDigest: sha256(manifest) };
}

/** Writes an OCI image layout directory holding one image tagged `tag`. */
export function writeOciLayout(dir: string, image: OciImage, tag: string): void {
  const blobDir = join(dir, 'blobs', 'sha256');
  mkdirSync(blobDir, { recursive: true });
  const write = (digest: string, data: Buffer): void => writeFileSync(join(blobDir, digest.slice('sha256:'.length)), data);
  for (const [digest, data] of image.blobs) write(digest, data);
  write(image.manifestDigest, image.manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          mediaType: MEDIA.manifest,
          digest: image.manifestDigest,
          size: image.manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
}

/** A docker-style auth file: credentials reach skopeo through a 0600 file, never argv. */
export function authFileJson(host: string, credentials: { username: string; password: string } | undefined): string {
  const auths = credentials
    ? { [host]: { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') } }
    : {};
  return JSON.stringify({ auths });
}

export interface SeedOptions {
  /** Repository name, e.g. `app/a`. */
  name: string;
  tag?: string;
  /** Size of the incompressible filler file; 0 (default) for a ~1 MB busybox-only image. */
  sizeBytes?: number;
  /** Makes the image distinct; default `name:tag`. */
  seed?: string;
  /** Push as Docker schema 2 instead of OCI. Default 'oci'. */
  format?: 'oci' | 'v2s2';
  /** Push as this account instead of the registry's first user. */
  as?: { username: string; password: string };
}

export interface SeededImage {
  /** `127.0.0.1:PORT/name:tag` */
  ref: string;
  name: string;
  tag: string;
  /** The manifest digest the registry reports (what `docker pull` puts in RepoDigests). */
  digest: string;
  /** Total bytes of the layers as stored (compressed). */
  layerBytes: number;
}

export async function seedImage(registry: RegistryEndpoint, options: SeedOptions): Promise<SeededImage> {
  const tag = options.tag ?? 'latest';
  const seed = options.seed ?? `${options.name}:${tag}`;
  const layers = [baseLayer(), seedLayer(seed, options.sizeBytes ?? 0)];
  const image = ociImage(layers, seed);
  const temp = makeTempDir('regauth-seed-');
  try {
    const layout = join(temp.path, 'layout');
    writeOciLayout(layout, image, tag);
    const authFile = join(temp.path, 'auth.json');
    const credentials = registry.auth === 'none' ? undefined : (options.as ?? firstCredentials(registry.users));
    writeFileSync(authFile, authFileJson(registry.host, credentials), { mode: 0o600 });
    // skopeo insists on a signature policy; the machine's may be missing or strict.
    const policyFile = join(temp.path, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const digestFile = join(temp.path, 'digest');
    const ref = `${registry.host}/${options.name}:${tag}`;
    const result = await runProcess({
      command: 'skopeo',
      args: [
        '--policy', policyFile,
        'copy', '--quiet',
        '--dest-authfile', authFile,
        ...(registry.tls ? ['--dest-cert-dir', registry.certDir] : ['--dest-tls-verify=false']),
        ...(options.format === 'v2s2' ? ['--format', 'v2s2'] : []),
        '--digestfile', digestFile,
        `oci:${layout}:${tag}`,
        `docker://${ref}`,
      ],
      env: { ...process.env, TMPDIR: temp.path, REGISTRY_AUTH_FILE: authFile },
    });
    if (result.exitCode !== 0) throw new Error(`skopeo copy to ${ref} failed: ${result.stderr.trim()}`);
    const digest = readFileSync(digestFile, 'utf8').trim();
    return { ref, name: options.name, tag, digest, layerBytes: layers.reduce((sum, layer) => sum + layer.blob.length, 0) };
  } finally {
    await temp.remove();
  }
}

/** Seeds several images, two skopeo processes at a time. */
export async function seedImages(registry: RegistryEndpoint, images: readonly SeedOptions[]): Promise<SeededImage[]> {
  const results: SeededImage[] = new Array<SeededImage>(images.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const index = next++;
      results[index] = await seedImage(registry, images[index] as SeedOptions);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}
