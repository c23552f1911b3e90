import { lookup } from 'node:dns/promises';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imagesIn, inspectImage, removeAllImages, startEngine, type Engine } from '../../testbed/engine.ts';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../../testbed/fault-proxy.ts';
import { seedImages, type SeededImage } from '../../testbed/images.ts';
import { freePort } from '../../testbed/ports.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, type CommandResult, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * regauth/pull as users run it: the packed dist/orb.yml through the step runner, a real dockerd,
 * a real registry behind the fault proxy, and a docker config written by the packed `login`.
 * The retry sleeps are real (the packed orb has no test hook), so fault counts stay small.
 *
 * Counting: every `docker pull` is recorded by a docker shim on PATH. At the proxy, every attempt
 * starts with one HEAD of the tag's manifest; a 4xx/5xx answer to that HEAD makes dockerd retry
 * the same attempt with a GET (so a rule needs `times: 2` to fail one attempt); a reset HEAD
 * fails the attempt outright. Before retrying a 429/5xx regauth itself sends one HEAD of the same
 * manifest (to read Retry-After, which docker does not pass on): a fault rule answers that one
 * too, or the registry does (401, then 200 with the saved login).
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

// The fallback to Docker Hub is only predictable when Docker Hub cannot be reached (no network).
const hubReachable = await lookup('registry-1.docker.io').then(
  () => true,
  () => false,
);

const USER = 'alice';
const PASSWORD = 'pull-e2e-pw-5c1d';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Row {
  digest: string;
  seconds: number;
  attempts: number;
}

/** The summary table's row for `image`, or undefined. */
function row(stdout: string, image: string): Row | undefined {
  const match = new RegExp(`^${escape(image)} +(\\S+) +(\\d+\\.\\d) +\\S+ +(\\d+)$`, 'm').exec(stdout);
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { digest: match[1], seconds: Number(match[2]), attempts: Number(match[3]) };
}

/** docker pull attempts for `repository:tag` as the proxy saw them (one HEAD of the tag each). */
function tagHeads(requests: readonly ProxiedRequest[], repository: string, tag: string): number {
  return requests.filter((r) => r.method === 'HEAD' && r.image === repository && r.kind === 'manifests' && r.path.split('?')[0]?.endsWith(`/manifests/${tag}`)).length;
}

function retryLines(stdout: string, ref: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith(`… ${ref}: attempt `));
}

describe.runIf(enabled)('regauth/pull through the packed orb, a real engine and a faulty registry', () => {
  let orb: Orb;
  let engine: Engine;
  let registry: Registry;
  let proxy: FaultProxy;
  /** In front of the same registry, never logged in to. */
  let lockedProxy: FaultProxy;
  let context: JobContext;
  const seeded = new Map<string, SeededImage>();
  const stops: Array<() => Promise<void>> = [];

  const image = (name: string): SeededImage => {
    const found = seeded.get(name);
    if (!found) throw new Error(`not seeded: ${name}`);
    return found;
  };
  /** The seeded image's reference through the fault proxy. */
  const via = (name: string, host = proxy.host): string => `${host}/${name}:${image(name).tag}`;

  /** A docker on PATH that records its arguments, then runs the real one. */
  let shimDir = '';
  let shimLog = '';
  const argv = (): string[] => (existsSync(shimLog) ? readFileSync(shimLog, 'utf8').trim().split('\n').filter(Boolean) : []);

  /** pulls: the argument lines of every `docker pull` regauth ran. */
  type PullRun = CommandResult & { requests: ProxiedRequest[]; lockedRequests: ProxiedRequest[]; pulls: string[] };

  async function pull(params: Record<string, ParameterValue>, env: Record<string, string> = {}): Promise<PullRun> {
    const from = proxy.requests.length;
    const lockedFrom = lockedProxy.requests.length;
    writeFileSync(shimLog, '');
    const extraEnv = { PATH: `${shimDir}:${context.env.PATH ?? ''}` };
    const result = await runOrbCommand(orb, 'pull', params, { ...context, env: { ...context.env, ...env } }, { extraEnv });
    const pulls = argv().filter((line) => line.startsWith('pull '));
    return { ...result, requests: proxy.requests.slice(from), lockedRequests: lockedProxy.requests.slice(lockedFrom), pulls };
  }

  /** How many times docker pull ran for `ref`. */
  const dockerPulls = (run: PullRun, ref: string): number => run.pulls.filter((line) => line.endsWith(` ${ref}`)).length;

  /** Status of each manifest request for `repository`, in order. */
  const manifestAnswers = (run: PullRun, repository: string): string[] =>
    run.requests.filter((r) => r.image === repository && r.kind === 'manifests').map((r) => `${r.method} ${r.status}`);

  beforeAll(async () => {
    orb = loadOrb();
    // Plain HTTP registry: a TLS one behind loopback turns a 401 into a reset (see pull-engine.test.ts).
    [engine, registry] = await Promise.all([startEngine(), startRegistry({ auth: 'htpasswd', tls: false, users: { [USER]: PASSWORD } })]);
    stops.push(() => engine.stop(), () => registry.stop());
    [proxy, lockedProxy] = await Promise.all([startFaultProxy({ target: registry.url }), startFaultProxy({ target: registry.url })]);
    stops.push(() => proxy.stop(), () => lockedProxy.stop());
    const names = [
      'app/a', 'app/b', 'app/c', 'app/d',
      'conc/1', 'conc/2', 'conc/3', 'conc/4', 'conc/5', 'conc/6',
      // What a pull-through cache under the prefix "mirror" holds for Docker Hub images.
      'mirror/cimg/postgres:16.4', 'mirror/library/alpine:3.20',
    ];
    const images = await seedImages(
      registry,
      names.map((spec) => {
        const [name, tag] = spec.split(':') as [string, string | undefined];
        return { name, tag: tag ?? 'v1' };
      }),
    );
    for (const seed of images) seeded.set(seed.name, seed);

    context = newJob({ DOCKER_HOST: engine.dockerHost, REG_USER: USER, REG_PASS: PASSWORD });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    const login = await runOrbCommand(orb, 'login', { registry: proxy.host, username: 'REG_USER', password: 'REG_PASS' }, context);
    expect(login.exitCode, login.stderr).toBe(0);

    const realDocker = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
    shimDir = join(context.cwd, 'shim');
    shimLog = join(context.cwd, 'docker-argv.log');
    mkdirSync(shimDir, { recursive: true });
    writeFileSync(join(shimDir, 'docker'), `#!/bin/bash\nprintf '%s\\n' "$*" >> '${shimLog}'\nexec '${realDocker}' "$@"\n`);
    chmodSync(join(shimDir, 'docker'), 0o755);
  });

  afterEach(async () => {
    proxy.clearRules();
    proxy.setLatency(0);
    proxy.setResponseHeaders(undefined);
    await removeAllImages(engine);
  });

  afterAll(async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  });

  it('pulls several good images at once and reports image, digest, seconds and attempts', async () => {
    const names = ['app/a', 'app/b', 'app/c', 'app/d'];
    const result = await pull({ images: names.map((name) => via(name)).join(', ') });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^IMAGE +DIGEST +SECONDS +SIZE +ATTEMPTS$/m);
    // docker's own status lines (the digest is read from them) are never printed.
    expect(result.stdout).not.toMatch(/Pulling from|Pull complete|Download complete|^Digest:|^Status:/m);
    expect(result.pulls).toHaveLength(4);
    const held = await imagesIn(engine);
    for (const name of names) {
      const seed = image(name);
      expect(result.stdout).toMatch(new RegExp(`^✔ ${escape(via(name))} ${escape(seed.digest.slice(0, 19))}… \\d+\\.\\d s, 1 attempt$`, 'm'));
      const found = row(result.stdout, via(name));
      expect(found).toMatchObject({ digest: seed.digest, attempts: 1 });
      expect(found?.seconds).toBeGreaterThanOrEqual(0);
      expect(tagHeads(result.requests, name, seed.tag)).toBe(1);
      expect(held.flatMap((i) => i.repoDigests)).toContain(`${proxy.host}/${name}@${seed.digest}`);
    }
  });

  describe('transient faults end in success within the attempt budget', () => {
    it('retries two 503 answers and succeeds on the third attempt', async () => {
      // Two 503s fail an attempt (dockerd's HEAD, then its GET); regauth's probe takes a third.
      const rule = proxy.addRule({ image: 'app/a', fault: '503', times: 6 });
      const result = await pull({ images: via('app/a') });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(rule.hits()).toBe(6);
      expect(dockerPulls(result, via('app/a'))).toBe(3);
      expect(manifestAnswers(result, 'app/a').slice(0, 6)).toEqual(['HEAD 503', 'GET 503', 'HEAD 503', 'HEAD 503', 'GET 503', 'HEAD 503']);
      expect(row(result.stdout, via('app/a'))).toMatchObject({ digest: image('app/a').digest, attempts: 3 });
      const retries = retryLines(result.stdout, via('app/a'));
      expect(retries).toHaveLength(2);
      // A 503 without Retry-After: the ordinary backoff.
      expect(retries[0]).toMatch(/attempt 1 of 5 failed \(the registry answered with a server error \(5xx\)\); retrying in \d+\.\d s$/);
    });

    it('retries a 429 without Retry-After, after asking the registry with the saved login', async () => {
      const rule = proxy.addRule({ image: 'app/b', fault: '429', times: 2 });
      const result = await pull({ images: via('app/b') });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(rule.hits()).toBe(2);
      expect(dockerPulls(result, via('app/b'))).toBe(2);
      // The probe: refused without credentials (Basic challenge), then answered with the login's.
      expect(manifestAnswers(result, 'app/b').slice(0, 4)).toEqual(['HEAD 429', 'GET 429', 'HEAD 401', 'HEAD 200']);
      expect(row(result.stdout, via('app/b'))?.attempts).toBe(2);
      expect(retryLines(result.stdout, via('app/b'))).toEqual([
        expect.stringMatching(/attempt 1 of 5 failed \(rate limited by the registry \(429 toomanyrequests\)\); retrying in \d+\.\d s$/),
      ]);
      expect(result.stdout).not.toContain(PASSWORD);
    });

    it('waits as long as the registry’s Retry-After says, and says so', async () => {
      // dockerd's HEAD and GET, then regauth's probe: all three answered 429, Retry-After: 3.
      const rule = proxy.addRule({ image: 'app/c', fault: '429', times: 3, retryAfterSeconds: 3 });
      const result = await pull({ images: via('app/c') });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(rule.hits()).toBe(3);
      expect(dockerPulls(result, via('app/c'))).toBe(2);
      const retries = retryLines(result.stdout, via('app/c'));
      expect(retries).toEqual([
        expect.stringMatching(/attempt 1 of 5 failed \(rate limited by the registry \(429 toomanyrequests\)\); the registry asked to wait 3 s; retrying in 3\.0 s$/),
      ]);
      expect(row(result.stdout, via('app/c'))?.attempts).toBe(2);
      expect(row(result.stdout, via('app/c'))?.seconds).toBeGreaterThanOrEqual(3);
    });

    it('retries a reset connection', async () => {
      const rule = proxy.addRule({ image: 'app/d', fault: 'reset', times: 2 });
      const result = await pull({ images: via('app/d') });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(rule.hits()).toBe(2);
      // dockerd does not fall back to GET after a reset HEAD: each reset is one failed attempt.
      expect(tagHeads(result.requests, 'app/d', 'v1')).toBe(3);
      expect(row(result.stdout, via('app/d'))?.attempts).toBe(3);
      expect(retryLines(result.stdout, via('app/d'))[0]).toMatch(/attempt 1 of 5 failed \(the connection to the registry failed \(reset, refused or timed out\)\)/);
    });
  });

  describe('permanent faults make exactly one attempt', () => {
    it('fails an unknown image at once (manifest unknown)', async () => {
      const ref = `${proxy.host}/app/nope:v1`;
      const result = await pull({ images: ref });
      expect(result.exitCode).toBe(1);
      // One attempt: HEAD 404, then dockerd's GET 404 of the same attempt.
      expect(tagHeads(result.requests, 'app/nope', 'v1')).toBe(1);
      expect(result.requests.filter((r) => r.image === 'app/nope').map((r) => `${r.method} ${r.status}`)).toEqual(['HEAD 404', 'GET 404']);
      expect(row(result.stdout, ref)).toEqual({ digest: 'failed', seconds: expect.any(Number) as number, attempts: 1 });
      expect(result.stdout).not.toContain('retrying');
      expect(result.stderr.trim()).toBe(`regauth: pull: could not pull 1 of 1 image: ${ref} (the image or tag does not exist (manifest unknown), after 1 attempt)`);
    });

    it('fails at once when not logged in to the registry (unauthorized)', async () => {
      const ref = via('app/a', lockedProxy.host);
      const result = await pull({ images: ref });
      expect(result.exitCode).toBe(1);
      // docker has no credentials for the Basic challenge of the ping, so it sends no manifest
      // request at all: one attempt is one ping.
      expect(result.lockedRequests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['GET /v2/ 401']);
      expect(row(result.stdout, ref)?.attempts).toBe(1);
      expect(result.stdout).not.toContain('retrying');
      expect(result.stderr.trim()).toBe(
        `regauth: pull: could not pull 1 of 1 image: ${ref} (the registry refused access — log in first (regauth/login or regauth/ecr-oidc-login) with an account that may pull it, after 1 attempt)`,
      );
    });
  });

  it('pulls every good image of a mix and names every bad one, and why, in one closing line', async () => {
    const unknown = `${proxy.host}/app/nope:v1`;
    const locked = via('app/c', lockedProxy.host);
    const failing = via('app/d');
    proxy.addRule({ image: 'app/d', fault: '503', times: 100 });
    const result = await pull({ images: [via('app/a'), unknown, via('app/b'), locked, failing].join('\n'), max_attempts: 2 });
    expect(result.exitCode).toBe(1);
    for (const name of ['app/a', 'app/b']) {
      expect(row(result.stdout, via(name))).toMatchObject({ digest: image(name).digest, attempts: 1 });
      expect(await inspectImage(engine, via(name))).toBeDefined();
    }
    expect(await inspectImage(engine, failing)).toBeUndefined();
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `regauth: pull: could not pull 3 of 5 images: ` +
        `${unknown} (the image or tag does not exist (manifest unknown), after 1 attempt); ` +
        `${locked} (the registry refused access — log in first (regauth/login or regauth/ecr-oidc-login) with an account that may pull it, after 1 attempt); ` +
        `${failing} (the registry answered with a server error (5xx), after 2 attempts)`,
    );
  });

  it('gives up after exactly max_attempts when a fault outlasts them', async () => {
    const rule = proxy.addRule({ image: 'app/c', fault: '503', times: 100 });
    const result = await pull({ images: via('app/c'), max_attempts: 3 });
    expect(result.exitCode).toBe(1);
    expect(dockerPulls(result, via('app/c'))).toBe(3);
    // Two per attempt, and one probe before each of the two retries: none after the last attempt.
    expect(rule.hits()).toBe(3 * 2 + 2);
    expect(row(result.stdout, via('app/c'))?.attempts).toBe(3);
    expect(retryLines(result.stdout, via('app/c')).map((line) => /attempt (\d) of (\d)/.exec(line)?.slice(1).join('/'))).toEqual(['1/3', '2/3']);
    expect(result.stderr.trim()).toBe(`regauth: pull: could not pull 1 of 1 image: ${via('app/c')} (the registry answered with a server error (5xx), after 3 attempts)`);
  });

  it('runs no more than `concurrency` pulls at once', async () => {
    // Latency keeps every pull's requests open long enough to overlap with the others'.
    proxy.setLatency(150);
    const from = proxy.requests.length;
    let most = 0;
    // Called as each response starts: the images with a request still unanswered at that moment
    // (this one included) are the pulls in flight.
    proxy.setResponseHeaders((answered) => {
      const open = new Set<string>();
      for (const request of proxy.requests.slice(from)) {
        // regauth's plan reads each tag's manifest with a GET before any pull; docker HEADs the tag.
        const planRead = request.kind === 'manifests' && request.method === 'GET' && !request.path.includes('/manifests/sha256:');
        if (request.image !== undefined && !planRead && (request.status === 0 || request === answered)) open.add(request.image);
      }
      most = Math.max(most, open.size);
      return {};
    });
    const names = ['conc/1', 'conc/2', 'conc/3', 'conc/4', 'conc/5', 'conc/6'];
    const result = await pull({ images: names.map((name) => via(name)).join(' '), concurrency: 2 });
    expect(result.exitCode, result.stderr).toBe(0);
    for (const name of names) expect(row(result.stdout, via(name))?.attempts).toBe(1);
    expect(most).toBeLessThanOrEqual(2);
    // And the limit is used: two pulls did overlap.
    expect(most).toBe(2);
  });

  describe('platform', () => {
    it('passes --platform to every pull, also when given as ${VARIABLE}', async () => {
      const result = await pull({ images: `${via('app/a')} ${via('app/b')}`, platform: '${TARGET_PLATFORM}' }, { TARGET_PLATFORM: 'linux/amd64' });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.pulls.sort()).toEqual([`pull --platform linux/amd64 ${via('app/a')}`, `pull --platform linux/amd64 ${via('app/b')}`]);
    });

    it('refuses a hostile platform value before anything runs', async () => {
      const marker = join(context.cwd, 'platform-pwned');
      const result = await pull({ images: via('app/a'), platform: `linux/amd64$(touch ${marker})` });
      expect(result.exitCode).toBe(2);
      expect(result.stderr.trim()).toMatch(/^regauth: pull: parameter platform: contains the shell metacharacter "\$", which no valid value has$/);
      expect(existsSync(marker)).toBe(false);
      expect(argv()).toEqual([]);
      expect(result.requests).toEqual([]);
    });
  });

  describe('mirror', () => {
    it('pulls Docker Hub images from the mirror and tags them with their Docker Hub names', async () => {
      const result = await pull({ images: 'cimg/postgres:16.4, alpine:3.20', mirror: `${proxy.host}/mirror` });
      expect(result.exitCode, result.stderr).toBe(0);
      // With a mirror the Docker Hub budget is not read.
      expect(result.stdout).not.toContain('Docker Hub pull budget');
      for (const [ref, shortName, mirrored] of [
        ['docker.io/cimg/postgres:16.4', 'cimg/postgres:16.4', 'mirror/cimg/postgres'],
        ['docker.io/library/alpine:3.20', 'alpine:3.20', 'mirror/library/alpine'],
      ] as const) {
        const seed = image(mirrored);
        expect(result.stdout).toMatch(new RegExp(`^✔ ${escape(ref)} sha256:\\w{12}… \\d+\\.\\d s, 1 attempt, via mirror$`, 'm'));
        expect(row(result.stdout, ref)).toMatchObject({ digest: seed.digest, attempts: 1 });
        expect(tagHeads(result.requests, mirrored, seed.tag)).toBe(1);
        const held = await inspectImage(engine, shortName);
        expect(held?.repoTags).toEqual(expect.arrayContaining([shortName, `${proxy.host}/${mirrored}:${seed.tag}`]));
        expect(held?.repoDigests).toContain(`${proxy.host}/${mirrored}@${seed.digest}`);
      }
    });

    it.skipIf(hubReachable)('falls back to Docker Hub for an image the mirror lacks, and says why it failed when Docker Hub is unreachable', async () => {
      const result = await pull({ images: 'cimg/postgres:16.4 cimg/redis:7.2', mirror: `${proxy.host}/mirror` });
      expect(result.exitCode).toBe(1);
      expect(row(result.stdout, 'docker.io/cimg/postgres:16.4')).toMatchObject({ digest: image('mirror/cimg/postgres').digest, attempts: 1 });
      // One attempt at the mirror (manifest unknown is permanent), one at Docker Hub.
      expect(tagHeads(result.requests, 'mirror/cimg/redis', '7.2')).toBe(1);
      expect(row(result.stdout, 'docker.io/cimg/redis:7.2')).toMatchObject({ digest: 'failed', attempts: 2 });
      expect(result.stdout).toContain(
        `↷ docker.io/cimg/redis:7.2: the mirror could not serve ${proxy.host}/mirror/cimg/redis:7.2 (the image or tag does not exist (manifest unknown)); pulling from Docker Hub`,
      );
      expect(result.stdout).toMatch(/^✘ docker\.io\/cimg\/redis:7\.2 the registry host name does not resolve \(no such host\), after \d+\.\d s, 2 attempts \(docker: ".*registry-1\.docker\.io.*"\)$/m);
      expect(result.stderr.trim()).toBe(
        'regauth: pull: could not pull 1 of 2 images: docker.io/cimg/redis:7.2 (the mirror lacked it (manifest unknown), then Docker Hub: the registry host name does not resolve (no such host), after 2 attempts)',
      );
    });
  });

  describe('Docker Hub pull budget', () => {
    let server: Server;
    let base = '';
    const seen: string[] = [];

    beforeAll(async () => {
      // Docker Hub's two budget endpoints: a token, then a HEAD that carries the rate-limit headers.
      server = createServer((req, res) => {
        seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
        if (req.url?.startsWith('/token')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'budget-e2e-token' }));
          return;
        }
        if (req.method === 'HEAD' && req.url === '/v2/ratelimitpreview/test/manifests/latest' && req.headers.authorization === 'Bearer budget-e2e-token') {
          res.writeHead(200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' }).end();
          return;
        }
        res.writeHead(401).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    });

    const firstOutcome = (stdout: string): number => stdout.split('\n').findIndex((line) => /^[✔✘↷…] /.test(line));

    it('prints the budget line before pulling a Docker Hub image', async () => {
      seen.length = 0;
      const result = await pull(
        { images: `busybox:1.36 ${via('app/a')}` },
        { REGAUTH_DOCKERHUB_AUTH_URL: `${base}/token`, REGAUTH_DOCKERHUB_REGISTRY_URL: base },
      );
      const lines = result.stdout.split('\n');
      const budget = lines.indexOf("regauth: Docker Hub pull budget: 76 of 100 pulls left per 6 hours (anonymous: counted against this job's IP address)");
      expect(budget, result.stdout).toBeGreaterThanOrEqual(0);
      expect(budget).toBeLessThan(firstOutcome(result.stdout));
      expect(seen).toEqual(['GET /token?service=registry.docker.io&scope=repository%3Aratelimitpreview%2Ftest%3Apull', 'HEAD /v2/ratelimitpreview/test/manifests/latest']);
      expect(row(result.stdout, via('app/a'))?.attempts).toBe(1);
      if (!hubReachable) {
        expect(result.stderr.trim()).toBe('regauth: pull: could not pull 1 of 2 images: docker.io/library/busybox:1.36 (the registry host name does not resolve (no such host), after 1 attempt)');
      }
    });

    it('says briefly that the budget could not be read, and does not fail for that', async () => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const result = await pull({ images: `busybox:1.36 ${via('app/a')}` }, { REGAUTH_DOCKERHUB_AUTH_URL: `${closed}/token`, REGAUTH_DOCKERHUB_REGISTRY_URL: closed });
      const lines = result.stdout.split('\n');
      const budget = lines.indexOf('regauth: Docker Hub pull budget: could not be read (ECONNREFUSED); continuing');
      expect(budget, result.stdout).toBeGreaterThanOrEqual(0);
      expect(budget).toBeLessThan(firstOutcome(result.stdout));
      expect(row(result.stdout, via('app/a'))?.attempts).toBe(1);
      expect(result.stderr).not.toContain('budget');
      // The only failure is the pull from Docker Hub itself, which has no network here.
      if (!hubReachable) {
        expect(result.stderr.trim()).toBe('regauth: pull: could not pull 1 of 2 images: docker.io/library/busybox:1.36 (the registry host name does not resolve (no such host), after 1 attempt)');
      } else {
        expect(result.exitCode, result.stderr).toBe(0);
      }
    });
  });
});
