import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, inspectImage, imagesIn, removeAllImages, type Engine } from '../../testbed/engine.ts';
import { startFaultProxy, type FaultProxy } from '../../testbed/fault-proxy.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, probeStatus, type Registry } from '../../testbed/registry.ts';
import { requireTools } from '../../testbed/tools.ts';

const available = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const basic = (username: string, password: string): string => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

/** GET with the test CA trusted; returns status, headers and body. */
async function get(url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: string }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const out = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') out.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers: out, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!available)('test support: real registry, token server, engine, seeding, fault proxy', () => {
  let registry: Registry;
  let tokenRegistry: Registry;
  let engine: Engine;
  let seeded: SeededImage;
  let ca: string;
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    [registry, tokenRegistry, engine] = await Promise.all([
      startRegistry({ auth: 'htpasswd', users: { alice: 'alice-pw', AWS: 'ecr-pw' } }),
      startRegistry({ auth: 'token', users: { bob: 'bob-pw' } }),
      startEngine(),
    ]);
    stops.push(() => registry.stop(), () => tokenRegistry.stop(), () => engine.stop());
    ca = readFileSync(registry.caFile, 'utf8');
    seeded = await seedImage(registry, { name: 'app/a', tag: 'v1', sizeBytes: 256 * 1024 });
  });

  afterAll(async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  });

  describe('htpasswd registry', () => {
    it('refuses anonymous requests and accepts each configured account', async () => {
      expect(await probeStatus(`${registry.url}/v2/`, ca)).toBe(401);
      expect(await probeStatus(`${registry.url}/v2/`, ca, { authorization: basic('alice', 'alice-pw') })).toBe(200);
      expect(await probeStatus(`${registry.url}/v2/`, ca, { authorization: basic('AWS', 'ecr-pw') })).toBe(200);
      expect(await probeStatus(`${registry.url}/v2/`, ca, { authorization: basic('alice', 'wrong') })).toBe(401);
    });

    it('holds the seeded image under the digest seedImage reported', async () => {
      const response = await get(`${registry.url}/v2/app/a/manifests/v1`, ca, {
        authorization: basic('alice', 'alice-pw'),
        accept: MANIFEST_ACCEPT,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('docker-content-digest')).toBe(seeded.digest);
      expect(seeded.ref).toBe(`${registry.host}/app/a:v1`);
    });

    it('seeds distinct images for distinct seeds and the same image for the same seed', async () => {
      const [one, two, again] = [
        await seedImage(registry, { name: 'app/b', seed: 'one' }),
        await seedImage(registry, { name: 'app/b', tag: 'two', seed: 'two' }),
        await seedImage(registry, { name: 'app/c', seed: 'one' }),
      ];
      expect(one.digest).not.toBe(two.digest);
      expect(again.digest).toBe(one.digest);
    });

    it('can share a seeded store with a second registry', async () => {
      const plain = await startRegistry({ auth: 'none', tls: false, storageDir: registry.storageDir });
      stops.push(() => plain.stop());
      const response = await get(`${plain.url}/v2/app/a/manifests/v1`, ca, { accept: MANIFEST_ACCEPT });
      expect(response.status).toBe(200);
      expect(response.headers.get('docker-content-digest')).toBe(seeded.digest);
      await plain.stop();
    });
  });

  describe('engine', () => {
    it('answers the docker CLI on its own socket with a private DOCKER_CONFIG', async () => {
      const result = await engine.docker(['version', '--format', '{{.Server.Version}}']);
      expect(result.exitCode).toBe(0);
      expect(result.stdout.trim()).not.toBe('');
      expect(engine.env.DOCKER_CONFIG.startsWith('/tmp/')).toBe(true);
    });

    it('logs in with the password on stdin and pulls the seeded image by its digest', async () => {
      const login = await engine.docker(['login', '--username', 'alice', '--password-stdin', registry.host], { stdin: 'alice-pw' });
      expect(login.exitCode, login.stderr).toBe(0);
      const pull = await engine.docker(['pull', seeded.ref]);
      expect(pull.exitCode, pull.stderr).toBe(0);
      const image = await inspectImage(engine, seeded.ref);
      expect(image?.repoDigests).toContain(`${registry.host}/app/a@${seeded.digest}`);
      expect((await imagesIn(engine)).length).toBeGreaterThan(0);
      await removeAllImages(engine);
      expect(await imagesIn(engine)).toEqual([]);
    });
  });

  describe('token-auth registry', () => {
    it('refuses bad credentials, then logs in and pulls with good ones', async () => {
      const image = await seedImage(tokenRegistry, { name: 'team/tool', sizeBytes: 64 * 1024 });
      const bad = await engine.docker(['login', '--username', 'bob', '--password-stdin', tokenRegistry.host], { stdin: 'not-bobs' });
      expect(bad.exitCode).not.toBe(0);
      expect(tokenRegistry.tokenServer?.requests.some((request) => request.status === 401)).toBe(true);

      const login = await engine.docker(['login', '--username', 'bob', '--password-stdin', tokenRegistry.host], { stdin: 'bob-pw' });
      expect(login.exitCode, login.stderr).toBe(0);
      const pull = await engine.docker(['pull', image.ref]);
      expect(pull.exitCode, pull.stderr).toBe(0);
      expect((await inspectImage(engine, image.ref))?.repoDigests).toContain(`${tokenRegistry.host}/team/tool@${image.digest}`);
      expect(tokenRegistry.tokenServer?.requestCount()).toBeGreaterThan(2);
    });
  });

  describe('token server', () => {
    it('issues RS256 tokens with an x5c chain and the requested access, and refuses wrong passwords', async () => {
      const server = tokenRegistry.tokenServer;
      if (!server) throw new Error('token registry has no token server');
      const query = `?service=${encodeURIComponent(server.service)}&scope=${encodeURIComponent('repository:team/tool:pull,push')}`;
      expect((await get(`${server.realm}${query}`, ca, { authorization: basic('bob', 'nope') })).status).toBe(401);
      const ok = await get(`${server.realm}${query}`, ca, { authorization: basic('bob', 'bob-pw') });
      expect(ok.status).toBe(200);
      const body = JSON.parse(ok.body) as { token: string; access_token: string; expires_in: number; issued_at: string };
      expect(body.access_token).toBe(body.token);
      expect(body.expires_in).toBeGreaterThanOrEqual(60);
      const [header, claims] = body.token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
      expect(header).toMatchObject({ alg: 'RS256', x5c: [expect.any(String)] });
      expect(claims).toMatchObject({
        iss: server.issuer,
        aud: server.service,
        sub: 'bob',
        access: [{ type: 'repository', name: 'team/tool', actions: ['pull', 'push'] }],
      });
    });
  });

  describe('fault proxy', () => {
    let proxy: FaultProxy;

    beforeAll(async () => {
      proxy = await startFaultProxy({ target: registry.url });
      stops.push(() => proxy.stop());
    });

    it('answers 429 with Retry-After in the registry error format, then forwards again', async () => {
      const rule = proxy.addRule({ image: 'app/a', fault: '429', times: 1, retryAfterSeconds: 7 });
      proxy.setResponseHeaders({ 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' });
      const limited = await get(`${proxy.url}/v2/app/a/manifests/v1`, ca);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(limited.headers.get('ratelimit-remaining')).toBe('0;w=21600');
      expect(JSON.parse(limited.body)).toMatchObject({ errors: [{ code: 'TOOMANYREQUESTS' }] });
      expect(rule.remaining()).toBe(0);

      const forwarded = await get(`${proxy.url}/v2/app/a/manifests/v1`, ca, { authorization: basic('alice', 'alice-pw'), accept: MANIFEST_ACCEPT });
      expect(forwarded.status).toBe(200);
      expect(forwarded.headers.get('docker-content-digest')).toBe(seeded.digest);
      expect(forwarded.headers.get('ratelimit-limit')).toBe('100;w=21600');
      proxy.setResponseHeaders(undefined);
    });

    it('adds the configured latency to every request', async () => {
      proxy.setLatency(60);
      const started = performance.now();
      expect((await get(`${proxy.url}/v2/`, ca)).status).toBe(401);
      proxy.setLatency(0);
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    });

    it('cuts the connection for a reset rule', async () => {
      proxy.addRule({ image: 'app/a', fault: 'reset' });
      await expect(get(`${proxy.url}/v2/app/a/manifests/v1`, ca)).rejects.toThrow();
      expect(proxy.requests.at(-1)).toMatchObject({ image: 'app/a', kind: 'manifests', fault: 'reset', status: 0 });
    });

    it('makes the first docker pull fail with 503 and lets the next one through, counting manifest requests', async () => {
      const before = proxy.counts('app/a');
      // dockerd resolves a tag with HEAD and falls back to GET when HEAD fails: two faults fail a pull.
      const rule = proxy.addRule({ image: 'app/a', fault: '503', times: 2 });
      const login = await engine.docker(['login', '--username', 'alice', '--password-stdin', proxy.host], { stdin: 'alice-pw' });
      expect(login.exitCode, login.stderr).toBe(0);

      const ref = `${proxy.host}/app/a:v1`;
      const failed = await engine.docker(['pull', ref]);
      expect(failed.exitCode).not.toBe(0);
      expect(failed.stderr).toContain('503');
      expect(rule.hits()).toBe(2);
      expect(proxy.counts('app/a').manifests).toBe(before.manifests + 2);

      const pulled = await engine.docker(['pull', ref]);
      expect(pulled.exitCode, pulled.stderr).toBe(0);
      const after = proxy.counts('app/a');
      expect(after.manifests).toBeGreaterThanOrEqual(before.manifests + 3);
      expect(after.blobs).toBeGreaterThan(before.blobs);
      expect((await inspectImage(engine, ref))?.repoDigests).toContain(`${proxy.host}/app/a@${seeded.digest}`);
    });
  });
});
