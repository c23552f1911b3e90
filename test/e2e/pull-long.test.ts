import { lookup } from 'node:dns/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NO_COMPOSE_LINE } from '../../src/pull/compose.ts';
import { goQuoted } from '../../src/pull/credentials.ts';
import { createArgvShims, type ArgvShims } from '../support/canary.ts';
import { installComposeStandIn } from '../support/compose.ts';
import { removeAllImages, startEngine, type Engine } from '../../testbed/engine.ts';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../../testbed/fault-proxy.ts';
import { seedImages, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, NO_OUTPUT_MESSAGE, runOrbCommand, type CommandResult, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * regauth/pull on long, large and hostile pulls, through the packed orb, a real dockerd and a
 * real registry behind the fault proxy: progress while a ~30 s pull runs behind a bandwidth cap,
 * present digests with zero registry requests, compose files, the Docker Hub budget warning, a
 * registry whose body stalls, and one that quotes back the credentials it was sent.
 * docker compose itself cannot be installed here (see test/support/compose.ts for the named
 * stand-in over the real docker-compose 1.29).
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl', 'script', 'docker-compose']);

const hubReachable = await lookup('registry-1.docker.io').then(
  () => true,
  () => false,
);

const ALICE = 'alice';
const ALICE_PW = 'long-e2e-pw-71c2';
const BOB = 'bob';
// Characters JSON and Go both escape, so the quoted forms differ from the plain one.
const BOB_PW = 'bob"pw\\quoted-9d4e';
/** The slow image: ~13 MB behind 400 kB/s is a ~33 s pull. */
const SLOW_BYTES = 12_000_000;
const SLOW_RATE = 400_000;
/** CircleCI's promise: a line at least every 20 s; the margin covers timer and pipe delays. */
const MAX_GAP_MS = 20_000 + 2_500;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface TimedLine {
  ms: number;
  text: string;
}

/** The table row's digest and attempts for `image`. */
function row(stdout: string, image: string): { digest: string; attempts: number; size: string } | undefined {
  const match = new RegExp(`^${escape(image)} +(\\S+) +\\d+\\.\\d +(\\S+) +(\\d+)$`, 'm').exec(stdout);
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { digest: match[1], size: match[2], attempts: Number(match[3]) };
}

describe.runIf(enabled)('regauth/pull on long, large and hostile pulls', () => {
  let orb: Orb;
  let engine: Engine;
  let registry: Registry;
  let proxy: FaultProxy;
  /** Logged in to as bob, whose password has quotes and a backslash. */
  let echoProxy: FaultProxy;
  let context: JobContext;
  const seeded = new Map<string, SeededImage>();
  const stops: Array<() => Promise<void>> = [];
  /** Records every docker call of the step (test/support/canary.ts), to count the pulls. */
  let shims: ArgvShims;

  const via = (name: string, host = proxy.host): string => `${host}/${name}:${seeded.get(name)?.tag ?? 'missing'}`;

  type Run = CommandResult & { lines: TimedLine[]; requests: ProxiedRequest[]; echoRequests: ProxiedRequest[]; pulls: string[]; ms: number };

  async function pull(params: Record<string, ParameterValue>, env: Record<string, string> = {}, job: JobContext = context): Promise<Run> {
    const from = proxy.requests.length;
    const echoFrom = echoProxy.requests.length;
    shims.clear();
    const started = performance.now();
    const lines: TimedLine[] = [];
    let pending = '';
    const onOutput = (chunk: string, stream: 'stdout' | 'stderr'): void => {
      if (stream !== 'stdout') return;
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const text of parts) lines.push({ ms: performance.now() - started, text });
    };
    const extraEnv = { PATH: shims.pathWith(job.env.PATH ?? '') };
    const result = await runOrbCommand(orb, 'pull', params, { ...job, env: { ...job.env, ...env } }, { extraEnv, onOutput });
    const ms = performance.now() - started;
    const pulls = shims
      .invocations()
      .filter((call) => call.tool === 'docker' && call.argv[0] === 'pull')
      .map((call) => call.argv.join(' '));
    return { ...result, lines, ms, pulls, requests: proxy.requests.slice(from), echoRequests: echoProxy.requests.slice(echoFrom) };
  }

  beforeAll(async () => {
    orb = loadOrb();
    [engine, registry] = await Promise.all([startEngine(), startRegistry({ auth: 'htpasswd', tls: false, users: { [ALICE]: ALICE_PW, [BOB]: BOB_PW } })]);
    stops.push(() => engine.stop(), () => registry.stop());
    [proxy, echoProxy] = await Promise.all([startFaultProxy({ target: registry.url }), startFaultProxy({ target: registry.url })]);
    stops.push(() => proxy.stop(), () => echoProxy.stop());
    const images = await seedImages(registry, [
      { name: 'slow/big', tag: 'v1', sizeBytes: SLOW_BYTES },
      ...['app/a', 'app/b', 'app/c', 'app/stall', 'app/echo'].map((name) => ({ name, tag: 'v1' })),
    ]);
    for (const image of images) seeded.set(image.name, image);

    context = newJob({ DOCKER_HOST: engine.dockerHost, A_USER: ALICE, A_PASS: ALICE_PW, B_USER: BOB, B_PASS: BOB_PW });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    for (const [host, username, password] of [
      [proxy.host, 'A_USER', 'A_PASS'],
      [echoProxy.host, 'B_USER', 'B_PASS'],
    ] as const) {
      const login = await runOrbCommand(orb, 'login', { registry: host, username, password }, context);
      expect(login.exitCode, login.stderr).toBe(0);
    }
    shims = createArgvShims();
    stops.push(async () => shims.remove());
  });

  afterEach(async () => {
    proxy.clearRules();
    proxy.setBandwidth(undefined);
    echoProxy.clearRules();
    await removeAllImages(engine);
  });

  afterAll(async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  });

  it('prints progress at least every 20 s through a ~30 s pull, layer counts only going up, then the table with sizes and totals', async () => {
    proxy.setBandwidth(SLOW_RATE);
    const ref = via('slow/big');
    // The step runner ends a step silent for no_output_timeout, as CircleCI does: 25 s is less
    // than the pull takes, so only the progress lines keep the step alive.
    const result = await pull({ images: ref, no_output_timeout: '25s' });
    expect(result.stderr).not.toContain(NO_OUTPUT_MESSAGE);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.ms).toBeGreaterThan(25_000);
    const progress = result.lines.filter((line) => line.text.startsWith(`⋯ ${ref}: `));
    const finished = result.lines.find((line) => line.text.startsWith(`✔ ${ref} `));
    expect(finished, result.stdout).toBeDefined();
    expect(progress.length, result.stdout).toBeGreaterThanOrEqual(2);
    // From the step's start, between progress lines, and to the image's own line: no gap over 20 s.
    const times = [0, ...progress.map((line) => line.ms), finished?.ms ?? Infinity];
    for (let index = 1; index < times.length; index++) expect(times[index]! - times[index - 1]!, result.stdout).toBeLessThanOrEqual(MAX_GAP_MS);
    const parsed = progress.map((line) => {
      const match = /: (\d+) of (\d+) layers(?:, ([\d.]+) (B|kB|MB) of ([\d.]+) (B|kB|MB))? \(\d+ s\)$/.exec(line.text);
      expect(match, line.text).not.toBeNull();
      const unit = { B: 1, kB: 1e3, MB: 1e6 } as Record<string, number>;
      return { done: Number(match?.[1]), total: Number(match?.[2]), bytes: match?.[3] === undefined ? undefined : Number(match[3]) * (unit[match[4] ?? 'B'] ?? 1) };
    });
    for (let index = 1; index < parsed.length; index++) {
      expect(parsed[index]!.done).toBeGreaterThanOrEqual(parsed[index - 1]!.done);
      expect(parsed[index]!.bytes ?? 0).toBeGreaterThanOrEqual(parsed[index - 1]!.bytes ?? 0);
    }
    expect(parsed.at(-1)?.total).toBe(2);
    // docker ran on a terminal, so bytes were reported.
    expect(parsed.some((p) => p.bytes !== undefined && p.bytes > 0)).toBe(true);
    // An unchanged line is not repeated sooner than 20 s (less timer slack).
    const bare = progress.map((line) => ({ ms: line.ms, text: line.text.replace(/ \(\d+ s\)$/, '') }));
    for (let index = 1; index < bare.length; index++) {
      if (bare[index]!.text === bare[index - 1]!.text) expect(bare[index]!.ms - bare[index - 1]!.ms).toBeGreaterThanOrEqual(19_000);
    }
    expect(result.stdout).toMatch(/^IMAGE +DIGEST +SECONDS +SIZE +ATTEMPTS$/m);
    expect(row(result.stdout, ref)).toMatchObject({ digest: seeded.get('slow/big')?.digest, attempts: 1, size: expect.stringMatching(/^1\d\.\dMB$/) as string });
    expect(result.stdout).toMatch(/^total: 1 of 1 image, 1\d\.\d MB in \d+\.\d s$/m);
    // docker's own redrawn progress never reaches the log.
    // eslint-disable-next-line no-control-regex -- the escape character is what must not appear
    expect(result.stdout).not.toMatch(/Downloading|Extracting|\u001b/);
  }, 120_000);

  it('reports a digest the engine holds as present with no registry request at all, and names a tag pull that was a no-op', async () => {
    const first = await pull({ images: `${via('app/a')} ${via('app/b')}` });
    expect(first.exitCode, first.stderr).toBe(0);
    const digest = seeded.get('app/a')?.digest ?? '';
    const pinned = `${proxy.host}/app/a@${digest}`;
    const second = await pull({ images: `${pinned} ${via('app/b')}` });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.requests.filter((r) => r.image === 'app/a')).toEqual([]);
    expect(second.pulls).toEqual([`pull ${via('app/b')}`]);
    expect(second.stdout).toContain(`✔ ${pinned} present (the engine holds this digest; not pulled, no registry request)`);
    expect(row(second.stdout, pinned)).toMatchObject({ digest, attempts: 0 });
    expect(second.stdout).toMatch(new RegExp(`^✔ ${escape(via('app/b'))} .*Image is up to date \\(no-op\\)$`, 'm'));
    expect(second.stdout).toContain(`present, not pulled (pinned by digest, already held): ${pinned}`);
    expect(second.stdout).toContain(`no-op pulls (Image is up to date): ${via('app/b')}`);

    // A digest only in images, never pulled: not present, so pulled.
    await removeAllImages(engine);
    const third = await pull({ images: pinned });
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.pulls).toEqual([`pull ${pinned}`]);
  });

  describe('compose_files', () => {
    const writeCompose = (dir: string): void => {
      mkdirSync(join(dir, 'ci'), { recursive: true });
      // A variable with a default, one without (from the job), and an image also in `images`.
      writeFileSync(join(dir, 'compose.yml'), 'services:\n  a:\n    image: "${REG}/app/a:${A_TAG:-v1}"\n  b:\n    image: "${REG}/app/b:v1"\n');
      writeFileSync(join(dir, 'ci', 'extra.yml'), 'services:\n  c:\n    image: "${REG}/app/c:v1"\n  again:\n    image: "${REG}/app/a:v1"\n');
    };

    it('pulls every image the files name and `images` adds, each once, in the same pool', async () => {
      installComposeStandIn(context.env.DOCKER_CONFIG ?? '');
      writeCompose(context.cwd);
      const result = await pull({ images: via('app/b'), compose_files: 'compose.yml, ci/extra.yml' }, { REG: proxy.host });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.pulls.sort()).toEqual([`pull ${via('app/a')}`, `pull ${via('app/b')}`, `pull ${via('app/c')}`]);
      for (const name of ['app/a', 'app/b', 'app/c']) expect(row(result.stdout, via(name))).toMatchObject({ digest: seeded.get(name)?.digest, attempts: 1 });
    });

    it('names where a refused image came from, never a piece of the variable compose filled it from', async () => {
      installComposeStandIn(context.env.DOCKER_CONFIG ?? '');
      const dir = join(context.cwd, 'secret-compose');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'compose.yml'), 'services:\n  a:\n    image: "${REG}/app/a:${DEPLOY_TOKEN}"\n');
      const secret = 'Tok3n+s3cr3t-f00d';
      const result = await pull({ images: via('app/b'), compose_files: 'secret-compose/compose.yml' }, { REG: proxy.host, DEPLOY_TOKEN: secret });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain('compose_files: docker compose names an image regauth will not pull (image 1 of its list, resolved by compose from secret-compose/compose.yml: image: "${REG}/app/a:${DEPLOY_TOKEN}"');
      for (const piece of ['Tok3n', 's3cr3t', 'f00d']) expect((result.stdout + result.stderr).toLowerCase()).not.toContain(piece.toLowerCase());
      expect(result.pulls).toEqual([]);
    });

    it('fails with one line for a compose file that does not exist', async () => {
      const result = await pull({ images: via('app/b'), compose_files: 'missing/compose.yml' });
      expect(result.exitCode).toBe(2);
      expect(result.stderr.trim().split('\n')).toEqual([
        `regauth: pull: parameter compose_files: "missing/compose.yml" does not exist (looked for ${join(context.cwd, 'missing/compose.yml')}); check the path, which is relative to the step's working directory`,
      ]);
      expect(result.pulls).toEqual([]);
    });

    it('fails with one line when docker compose is not installed', async () => {
      // A job of its own: its DOCKER_CONFIG has no plugins, and the machine has no compose plugin.
      const bare = newJob({ DOCKER_HOST: engine.dockerHost });
      bare.env.DOCKER_CONFIG = join(bare.cwd, 'docker-config');
      writeCompose(bare.cwd);
      const result = await pull({ images: via('app/b'), compose_files: 'compose.yml' }, { REG: proxy.host }, bare);
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([`regauth: pull: ${NO_COMPOSE_LINE}`]);
      expect(result.pulls).toEqual([]);
    });
  });

  describe('Docker Hub budget', () => {
    let server: Server;
    let base = '';

    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url?.startsWith('/token')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'budget-long-token' }));
          return;
        }
        if (req.method === 'HEAD' && req.headers.authorization === 'Bearer budget-long-token') {
          res.writeHead(200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '1;w=21600', 'docker-ratelimit-source': '198.51.100.7' }).end();
          return;
        }
        res.writeHead(401).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    });

    it('warns before pulling when fewer pulls are left than the step makes from Docker Hub', async () => {
      const result = await pull(
        { images: `busybox:1.36 alpine:3.20 ${via('app/a')}`, max_attempts: 1 },
        { REGAUTH_DOCKERHUB_AUTH_URL: `${base}/token`, REGAUTH_DOCKERHUB_REGISTRY_URL: base },
      );
      const lines = result.stdout.split('\n');
      const budget = lines.indexOf("Docker Hub pull budget: 1 of 100 pulls left per 6 hours (anonymous: counted against this job's IP address, source 198.51.100.7)");
      const warning = lines.findIndex((line) => line.startsWith('regauth: warning: Docker Hub pull budget: only 1 left and this step makes 2 Docker Hub pulls (one per image and architecture)'));
      const firstOutcome = lines.findIndex((line) => /^[✔✘] /.test(line));
      expect(budget, result.stdout).toBeGreaterThanOrEqual(0);
      expect(warning).toBe(budget + 1);
      expect(warning).toBeLessThan(firstOutcome);
      expect(row(result.stdout, via('app/a'))?.attempts).toBe(1);
      if (!hubReachable) expect(result.exitCode).toBe(1);
    });
  });

  describe('a registry whose manifest body stalls after its headers', () => {
    it('ends the attempt within the deadline and says why, with max_attempts 1', async () => {
      const rule = proxy.addRule({ image: 'app/stall', fault: 'stall-body', method: 'GET', times: 10 });
      const ref = via('app/stall');
      const result = await pull({ images: ref, max_attempts: 1 }, { REGAUTH_PULL_STALL_SECONDS: '4' });
      expect(rule.hits()).toBeGreaterThanOrEqual(1);
      expect(result.exitCode).toBe(1);
      // 4 s without a byte, plus the ending: far below what a hang would take.
      expect(result.ms).toBeLessThan(20_000);
      expect(result.stderr.trim()).toBe(`regauth: pull: could not pull 1 of 1 image: ${ref} (docker pull made no progress for 4 s (no bytes, no output), so regauth ended it, after 1 attempt)`);
    });

    it('retries the stalled attempt with max_attempts 2', async () => {
      const rule = proxy.addRule({ image: 'app/stall', fault: 'stall-body', method: 'GET', times: 1 });
      const ref = via('app/stall');
      const result = await pull({ images: ref, max_attempts: 2 }, { REGAUTH_PULL_STALL_SECONDS: '4' });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(rule.hits()).toBe(1);
      expect(result.pulls).toEqual([`pull ${ref}`, `pull ${ref}`]);
      expect(result.stdout).toMatch(new RegExp(`^… ${escape(ref)}: attempt 1 of 2 failed \\(docker pull made no progress for 4 s \\(no bytes, no output\\), so regauth ended it\\); retrying in \\d+\\.\\d s$`, 'm'));
      expect(row(result.stdout, ref)).toMatchObject({ digest: seeded.get('app/stall')?.digest, attempts: 2 });
    });
  });

  it('prints none of the credentials a registry quotes back in its error, in any form', async () => {
    const rule = echoProxy.addRule({ image: 'app/echo', fault: 'echo-auth', on: 'manifests', times: 4 });
    const ref = via('app/echo', echoProxy.host);
    const result = await pull({ images: ref, max_attempts: 1 });
    expect(rule.hits()).toBeGreaterThanOrEqual(1);
    expect(result.exitCode).toBe(1);
    const output = result.stdout + result.stderr;
    // The registry's words did come back (redacted), so the check below means something.
    expect(output, output).toContain('***');
    const basic = Buffer.from(`${BOB}:${BOB_PW}`).toString('base64');
    for (const secret of [BOB_PW, basic, `${BOB}:${BOB_PW}`, JSON.stringify(BOB_PW).slice(1, -1), goQuoted(BOB_PW), 'bob"pw', 'quoted-9d4e']) {
      expect(output, secret).not.toContain(secret);
    }
  });
});
