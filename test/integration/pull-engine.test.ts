import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/core/cli.ts';
import { main } from '../../src/commands/pull.ts';
import { Redactor, Reporter } from '../../src/core/output.ts';
import { nodeFetch } from '../../src/pull/http.ts';
import { readDockerHubBudget } from '../../src/pull/ratelimit.ts';
import { inspectImage, removeAllImages, startEngine, type Engine } from '../../testbed/engine.ts';
import { startFaultProxy, type FaultProxy } from '../../testbed/fault-proxy.ts';
import { seedImages, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * regauth/pull's modules against a real dockerd, a real registry and the fault proxy: proves the
 * classifier on docker's real wording, the digest lookup and the mirror tag. No waiting: the
 * retry sleep is replaced, everything else is real.
 */
const available = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const noWait = { sleep: () => Promise.resolve(), random: () => 0 };

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const reporter = new Reporter(new Redactor(), { write: (t) => out.push(t) }, { write: (t) => err.push(t) });
  return { reporter, out, err };
}

describe.skipIf(!available)('regauth/pull against a real engine and registry', () => {
  let registry: Registry;
  let locked: Registry;
  let engine: Engine;
  let proxy: FaultProxy;
  let app: SeededImage;
  let tool: SeededImage;
  let hubCopy: SeededImage;
  const stops: Array<() => Promise<void>> = [];

  const env = (params: Record<string, string>) => ({ PATH: process.env.PATH, ...engine.env, ...params });
  const pull = async (params: Record<string, string>) => {
    const { reporter, out, err } = capture();
    const code = await runCommand('pull', (e, r) => main(e, r, { retry: noWait }), env(params), reporter);
    return { code, out: out.join(''), err: err.join('') };
  };

  beforeAll(async () => {
    [registry, locked, engine] = await Promise.all([
      startRegistry({ auth: 'htpasswd' }),
      // Plain HTTP: on loopback docker falls back from https to http, which turns a TLS
      // registry's 401 into "connection reset by peer"; a real registry says "no basic auth credentials".
      startRegistry({ auth: 'htpasswd', tls: false, users: { carol: 'carol-pw' } }),
      startEngine(),
    ]);
    stops.push(() => registry.stop(), () => locked.stop(), () => engine.stop());
    proxy = await startFaultProxy({ target: registry.url });
    stops.push(() => proxy.stop());
    const seeded = await seedImages(registry, [
      { name: 'app/a', tag: 'v1' },
      { name: 'team/tool', tag: '2.0' },
      // What a pull-through cache under the prefix "hub" holds for postgres:16.
      { name: 'hub/library/postgres', tag: '16' },
    ]);
    [app, tool, hubCopy] = seeded as [SeededImage, SeededImage, SeededImage];
    for (const host of [registry.host, proxy.host]) {
      const login = await engine.docker(['login', '--username', 'alice', '--password-stdin', host], { stdin: 'alice-pw' });
      expect(login.exitCode, login.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  });

  it('pulls several images and reports each one’s real digest', async () => {
    await removeAllImages(engine);
    const result = await pull({ REGAUTH_IMAGES: `${app.ref}, ${tool.ref}`, REGAUTH_CONCURRENCY: '2' });
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(new RegExp(`^${app.ref} +${app.digest} +[\\d.]+ +[\\d.]+[kMG]?B +1$`, 'm'));
    expect(result.out).toMatch(new RegExp(`^${tool.ref} +${tool.digest} +[\\d.]+ +[\\d.]+[kMG]?B +1$`, 'm'));
    expect(result.out).toMatch(/^IMAGE +DIGEST +SECONDS +SIZE +ATTEMPTS$/m);
  });

  it('retries a 503 from the registry and succeeds on the next attempt', async () => {
    await removeAllImages(engine);
    // dockerd tries HEAD then GET for a tag: two faults fail one pull.
    const rule = proxy.addRule({ image: 'app/a', fault: '503', times: 2 });
    const result = await pull({ REGAUTH_IMAGES: `${proxy.host}/app/a:v1` });
    expect(result.code, result.err).toBe(0);
    expect(rule.hits()).toBe(2);
    expect(result.out).toMatch(/attempt 1 of 5 failed \(the registry answered with a server error \(5xx\)\)/);
    expect(result.out).toMatch(new RegExp(`✔ ${proxy.host}/app/a:v1 sha256:\\w{12}… [\\d.]+ s, 2 attempts`));
  });

  it('retries a 429 and succeeds on the next attempt', async () => {
    await removeAllImages(engine);
    proxy.addRule({ image: 'app/a', fault: '429', times: 2 });
    const result = await pull({ REGAUTH_IMAGES: `${proxy.host}/app/a:v1` });
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/attempt 1 of 5 failed \(rate limited by the registry \(429 toomanyrequests\)\)/);
  });

  it('gives up after max_attempts when the registry keeps failing', async () => {
    proxy.addRule({ image: 'team/tool', fault: '503', times: 100 });
    const result = await pull({ REGAUTH_IMAGES: `${proxy.host}/team/tool:2.0`, REGAUTH_MAX_ATTEMPTS: '3' });
    proxy.clearRules();
    expect(result.code).toBe(1);
    expect(result.err).toMatch(new RegExp(`could not pull 1 of 1 image: ${proxy.host}/team/tool:2.0 \\(the registry answered with a server error \\(5xx\\), after 3 attempts\\)`));
  });

  it('fails a missing tag at once, and still pulls the good image', async () => {
    const result = await pull({ REGAUTH_IMAGES: `${registry.host}/app/a:nope ${app.ref}` });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/✘ .*app\/a:nope the image or tag does not exist \(manifest unknown\), after [\d.]+ s, 1 attempt/);
    expect(result.out).toMatch(new RegExp(`✔ ${app.ref} `));
    expect(result.err).toContain(`${registry.host}/app/a:nope (the image or tag does not exist (manifest unknown), after 1 attempt)`);
  });

  it('fails at once when the registry wants a login', async () => {
    const result = await pull({ REGAUTH_IMAGES: `${locked.host}/app/a:v1` });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/the registry refused access — log in first.*after 1 attempt/);
  });

  it('fails at once, saying what to do, when no daemon answers', async () => {
    const { reporter, err } = capture();
    const stepEnv = { PATH: process.env.PATH, DOCKER_HOST: 'unix:///nonexistent/regauth.sock', DOCKER_CONFIG: engine.dockerConfig, REGAUTH_IMAGES: app.ref };
    const code = await runCommand('pull', (e, r) => main(e, r, { retry: noWait }), stepEnv, reporter);
    expect(code).toBe(1);
    expect(err.join('')).toMatch(/no Docker engine answers at DOCKER_HOST \(or \/var\/run\/docker\.sock\): run the job on a machine executor, or add setup_remote_docker before this step, after 1 attempt/);
  });

  it('pulls a Docker Hub image through the mirror and tags it with its Docker Hub name', async () => {
    await removeAllImages(engine);
    const result = await pull({ REGAUTH_IMAGES: 'postgres:16', REGAUTH_MIRROR: `${registry.host}/hub` });
    expect(result.code, result.err).toBe(0);
    expect(result.out).not.toContain('Docker Hub pull budget');
    expect(result.out).toMatch(/✔ docker.io\/library\/postgres:16 sha256:\w{12}… [\d.]+ s, 1 attempt, via mirror/);
    expect(result.out).toContain(`docker.io/library/postgres:16  ${hubCopy.digest}`);
    const image = await inspectImage(engine, 'postgres:16');
    expect(image?.repoTags).toEqual(expect.arrayContaining(['postgres:16', `${registry.host}/hub/library/postgres:16`]));
  });
});

describe('Docker Hub budget over real HTTP', () => {
  let server: Server;
  let base = '';
  const seen: { method: string; url: string; authorization: string | undefined }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      if (req.url?.startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'loopback-token-1' }));
        return;
      }
      res.writeHead(200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '17;w=21600', 'docker-ratelimit-source': '127.0.0.1' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads the headers through node’s HTTP client', async () => {
    const line = await readDockerHubBudget({
      env: { REGAUTH_DOCKERHUB_AUTH_URL: `${base}/token`, REGAUTH_DOCKERHUB_REGISTRY_URL: base, DOCKER_CONFIG: '/nonexistent' },
      fetch: nodeFetch,
      redactor: new Redactor(),
    });
    expect(line).toBe("Docker Hub pull budget: 17 of 100 pulls left per 6 hours (anonymous: counted against this job's IP address, source 127.0.0.1)");
    expect(seen.map((s) => s.method)).toEqual(['GET', 'HEAD']);
    expect(seen[1]).toMatchObject({ url: '/v2/ratelimitpreview/test/manifests/latest', authorization: 'Bearer loopback-token-1' });
  });
});
