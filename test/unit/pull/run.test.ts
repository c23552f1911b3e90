import { describe, expect, it } from 'vitest';
import { DockerCommandError } from '../../../src/docker/error.ts';
import type { PullDocker } from '../../../src/pull/docker-pull.ts';
import type { PullSnapshot } from '../../../src/pull/progress.ts';
import { MIRROR_MAX_ATTEMPTS, runPulls, samePlatform, type PullPlan, type PullRunDeps } from '../../../src/pull/run.ts';
import type { PullFailure, PullSuccess } from '../../../src/pull/summary.ts';
import type { WaitProbe } from '../../../src/pull/wait-probe.ts';
import { parseReference, type ImageReference } from '../../../src/registry/reference.ts';

const daemon = (message: string) => `Error response from daemon: ${message}\n`;
const UNAVAILABLE = daemon('received unexpected HTTP status: 503 Service Unavailable');
const RESET = daemon('Get "https://r.example.com/v2/": read tcp 10.0.0.2:5->10.0.0.3:443: read: connection reset by peer');
const MANIFEST_UNKNOWN = daemon('manifest for x not found: manifest unknown: manifest unknown');
const DENIED = daemon('unauthorized: authentication required');
const NO_DAEMON = 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n';
const MIRROR = 'mirror.example.com/hub';

const digestOf = (name: string) => `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/**
 * A fake docker: each reference answers from a script of failures ('ok' succeeds, reporting a
 * digest; 'ok-no-digest' succeeds without one; once the script runs out every pull succeeds).
 * Every pull takes 500 ms of the fake clock.
 */
const NAMED_ONE_LAYER: PullSnapshot = { layersTotal: 1, layersDone: 0, bytesDone: undefined, bytesTotal: undefined, upToDate: false, digest: undefined, layerBytes: new Map(), downloaded: false };

class FakeDocker implements PullDocker {
  readonly calls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** When set, each pull waits on it, so pulls overlap the way real ones do. */
  hold: (() => Promise<void>) | undefined;

  constructor(
    private readonly clock: FakeClock,
    private readonly scripts: Record<string, string[]> = {},
    private readonly failTag = false,
  ) {}

  /** When set, a pull names its layers (the engine queued them) only after this resolves. */
  queueLayers: ((reference: string) => Promise<void>) | undefined;

  async pull(reference: string, platform: string | undefined, watch?: (snapshot: PullSnapshot) => void): Promise<string | undefined> {
    this.calls.push(`pull ${reference}${platform === undefined ? '' : ` --platform ${platform}`}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // docker names the image's layers as soon as the engine has read the manifest.
      await this.queueLayers?.(reference);
      watch?.(NAMED_ONE_LAYER);
      await this.hold?.();
      this.clock.ms += 500;
      const next = this.scripts[reference]?.shift() ?? 'ok';
      if (next === 'ok-no-digest') return undefined;
      if (next !== 'ok') throw new DockerCommandError(['pull', reference], 1, next);
      return digestOf(parseReference(reference).path);
    } finally {
      this.inFlight--;
    }
  }

  digest(ref: ImageReference): Promise<string | undefined> {
    this.calls.push(`digest ${ref.normalized}`);
    return Promise.resolve(ref.digest ?? digestOf(ref.path));
  }

  /** References the engine holds, with their sizes. */
  readonly engine = new Map<string, number>();

  /** `image inspect` calls, kept apart from the pulls and tags the tests count. */
  readonly inspected: string[] = [];

  held(reference: string): Promise<{ sizeBytes: number | undefined; platform: string | undefined } | undefined> {
    this.inspected.push(reference);
    const size = this.engine.get(reference);
    return Promise.resolve(size === undefined ? undefined : { sizeBytes: size, platform: 'linux/amd64' });
  }

  sizes(references: readonly string[]): Promise<(number | undefined)[]> {
    return Promise.resolve(references.map((reference) => this.engine.get(reference)));
  }

  tag(source: string, target: string): Promise<void> {
    this.calls.push(`tag ${source} ${target}`);
    if (this.failTag) return Promise.reject(new DockerCommandError(['tag', source, target], 1, 'Error response from daemon: No such image: x\n'));
    return Promise.resolve();
  }
}

class FakeClock {
  ms = 1_000_000;
  readonly sleeps: number[] = [];
  readonly now = () => this.ms;
  readonly sleep = (delay: number) => {
    this.sleeps.push(delay);
    this.ms += delay;
    return Promise.resolve();
  };
}

function setup(images: string[], scripts: Record<string, string[]> = {}, plan: Partial<PullPlan> = {}, opts: { failTag?: boolean; probeWait?: WaitProbe; schedule?: PullRunDeps['schedule'] } = {}) {
  const clock = new FakeClock();
  const docker = new FakeDocker(clock, scripts, opts.failTag);
  const lines: string[] = [];
  const fullPlan: PullPlan = { images: images.map(parseReference), concurrency: 4, maxAttempts: 5, platform: undefined, mirror: undefined, ...plan };
  const probe = opts.probeWait === undefined ? {} : { probeWait: opts.probeWait };
  const schedule = opts.schedule === undefined ? {} : { schedule: opts.schedule };
  const run = () => runPulls(fullPlan, { docker, now: clock.now, retry: { sleep: clock.sleep, random: () => 0.5 }, report: (line) => lines.push(line), ...probe, ...schedule });
  return { clock, docker, lines, run };
}

/** A probe that answers from a list of waits and records which references it was asked about. */
function fakeProbe(...waits: (number | undefined | Error)[]) {
  const asked: string[] = [];
  const probeWait: WaitProbe = (ref) => {
    asked.push(ref.normalized);
    const next = waits.shift();
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
  return { probeWait, asked };
}

const TOO_MANY = daemon('toomanyrequests: too many requests');

describe('runPulls', () => {
  it('pulls each image once and records digest, seconds and attempts', async () => {
    const { docker, run, lines } = setup(['postgres:16', 'ghcr.io/acme/api:1.4.2'], {}, { concurrency: 1 });
    const outcomes = await run();
    expect(outcomes).toEqual([
      { ok: true, image: 'docker.io/library/postgres:16', digest: digestOf('library/postgres'), seconds: 0.5, attempts: 1, source: 'registry', note: undefined },
      { ok: true, image: 'ghcr.io/acme/api:1.4.2', digest: digestOf('acme/api'), seconds: 0.5, attempts: 1, source: 'registry', note: undefined },
    ]);
    // The digest comes from docker pull's own output: no second docker call.
    expect(docker.calls).toEqual(['pull docker.io/library/postgres:16', 'pull ghcr.io/acme/api:1.4.2']);
    expect(lines).toEqual([expect.stringMatching(/^✔ docker.io\/library\/postgres:16 sha256:/), expect.stringMatching(/^✔ ghcr.io\/acme\/api:1.4.2 sha256:/)]);
  });

  it('passes the platform to every pull', async () => {
    const { docker, run } = setup(['redis'], {}, { platform: 'linux/arm64' });
    await run();
    expect(docker.calls[0]).toBe('pull docker.io/library/redis:latest --platform linux/arm64');
  });

  it('retries transient failures with capped backoff and counts every attempt', async () => {
    const { clock, run, lines } = setup(['redis'], { 'docker.io/library/redis:latest': [UNAVAILABLE, RESET, UNAVAILABLE] });
    const [outcome] = await run();
    expect(outcome).toMatchObject({ ok: true, attempts: 4 });
    // random() = 0.5 → three quarters of 1 s, 2 s, 4 s.
    expect(clock.sleeps).toEqual([750, 1500, 3000]);
    expect(outcome?.seconds).toBe((4 * 500 + 750 + 1500 + 3000) / 1000);
    expect(lines.slice(0, 3)).toEqual([
      '… docker.io/library/redis:latest: attempt 1 of 5 failed (the registry answered with a server error (5xx)); retrying in 0.8 s',
      '… docker.io/library/redis:latest: attempt 2 of 5 failed (the connection to the registry failed (reset, refused or timed out)); retrying in 1.5 s',
      '… docker.io/library/redis:latest: attempt 3 of 5 failed (the registry answered with a server error (5xx)); retrying in 3.0 s',
    ]);
  });

  it('honours a wait the registry stated', async () => {
    const { clock, run } = setup(['ghcr.io/a/b'], { 'ghcr.io/a/b:latest': [daemon('toomanyrequests: retry-after: 7s, allowed: 44000/minute')] });
    await run();
    expect(clock.sleeps).toEqual([7000]);
  });

  it('gives up after max_attempts transient failures', async () => {
    const { docker, run } = setup(['redis'], { 'docker.io/library/redis:latest': Array<string>(10).fill(UNAVAILABLE) }, { maxAttempts: 3 });
    const [outcome] = await run();
    expect(outcome).toMatchObject({ ok: false, attempts: 3, category: 'server' });
    expect(docker.calls.filter((c) => c.startsWith('pull'))).toHaveLength(3);
  });

  it.each([
    ['manifest unknown', MANIFEST_UNKNOWN, 'not-found'],
    ['unauthorized', DENIED, 'auth'],
    ['no daemon', NO_DAEMON, 'engine'],
  ])('makes exactly one attempt on a permanent failure (%s)', async (_name, output, category) => {
    const { clock, docker, run } = setup(['postgres:99'], { 'docker.io/library/postgres:99': [output] });
    const [outcome] = await run();
    expect(outcome).toMatchObject({ ok: false, attempts: 1, category });
    expect(docker.calls).toEqual(['pull docker.io/library/postgres:99']);
    expect(clock.sleeps).toEqual([]);
  });

  it('pulls the good images and names every bad one, in the order given', async () => {
    const { run } = setup(['redis', 'postgres:99', 'ghcr.io/a/b', 'private/thing'], {
      'docker.io/library/postgres:99': [MANIFEST_UNKNOWN],
      'ghcr.io/a/b:latest': [RESET],
      'docker.io/private/thing:latest': [DENIED],
    });
    const outcomes = await run();
    expect(outcomes.map((o) => [o.image, o.ok, o.attempts])).toEqual([
      ['docker.io/library/redis:latest', true, 1],
      ['docker.io/library/postgres:99', false, 1],
      ['ghcr.io/a/b:latest', true, 2],
      ['docker.io/private/thing:latest', false, 1],
    ]);
    expect((outcomes[1] as PullFailure).reason).toBe('the image or tag does not exist (manifest unknown)');
    expect((outcomes[3] as PullFailure).reason).toMatch(/^the registry refused access/);
  });

  it("starts the pulls after a big image only once the engine has queued its layers, so the engine's queue follows the plan", async () => {
    const images = ['ghcr.io/acme/big:1', 'ghcr.io/acme/small1:1', 'ghcr.io/acme/small2:1'];
    const { docker, run } = setup(images, {}, {}, { schedule: async () => ({ order: [0, 1, 2], queuesFirst: [true, true, false] }) });
    const queuedAt: string[] = [];
    const gates = new Map<string, () => void>();
    // The big image's manifest is slow: its layers are named only when the test says so.
    docker.queueLayers = (reference) => {
      queuedAt.push(`${reference} (started with ${docker.calls.length} pull(s) begun)`);
      return reference.includes('big') ? new Promise<void>((resolve) => gates.set(reference, resolve)) : Promise.resolve();
    };
    const done = run();
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    // Four slots, but only the big pull has begun: the small ones wait for its layers.
    expect(docker.calls).toEqual(['pull ghcr.io/acme/big:1']);
    gates.get('ghcr.io/acme/big:1')?.();
    const outcomes = await done;
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(docker.calls.slice(0, 3)).toEqual(images.map((image) => `pull ${image}`));
    expect(queuedAt).toEqual(['ghcr.io/acme/big:1 (started with 1 pull(s) begun)', 'ghcr.io/acme/small1:1 (started with 2 pull(s) begun)', 'ghcr.io/acme/small2:1 (started with 3 pull(s) begun)']);
  });

  it.each([1, 3, 4])('never has more than %i pulls in flight', async (concurrency) => {
    const images = Array.from({ length: 10 }, (_, i) => `ghcr.io/acme/app${i}:1`);
    const { docker, run } = setup(images, { 'ghcr.io/acme/app2:1': [RESET] }, { concurrency });
    // Let every started pull wait a few turns of the event loop so the pool fills up.
    docker.hold = async () => {
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    };
    const outcomes = await run();
    expect(docker.maxInFlight).toBe(concurrency);
    expect(outcomes.map((o) => o.image)).toEqual(images);
    expect(outcomes.every((o) => o.ok)).toBe(true);
  });

  describe('with a mirror', () => {
    it('pulls Docker Hub images from the mirror and tags them with the original name', async () => {
      const { docker, run } = setup(['postgres:16', 'cimg/postgres:16.4'], {}, { mirror: MIRROR, concurrency: 1 });
      const outcomes = await run();
      expect(docker.calls).toEqual([
        `pull ${MIRROR}/library/postgres:16`,
        `tag ${MIRROR}/library/postgres:16 docker.io/library/postgres:16`,
        `pull ${MIRROR}/cimg/postgres:16.4`,
        `tag ${MIRROR}/cimg/postgres:16.4 docker.io/cimg/postgres:16.4`,
      ]);
      expect(outcomes.map((o) => (o as PullSuccess).source)).toEqual(['mirror', 'mirror']);
    });

    it('leaves other registries alone', async () => {
      const { docker, run } = setup(['ghcr.io/a/b:1'], {}, { mirror: MIRROR });
      await run();
      expect(docker.calls).toEqual(['pull ghcr.io/a/b:1']);
    });

    it('falls back to Docker Hub at once when the mirror lacks the image, and counts both attempts', async () => {
      const { docker, run, lines, clock } = setup(['postgres:16'], { [`${MIRROR}/library/postgres:16`]: [MANIFEST_UNKNOWN] }, { mirror: MIRROR });
      const [outcome] = await run();
      expect(docker.calls).toEqual([`pull ${MIRROR}/library/postgres:16`, 'pull docker.io/library/postgres:16']);
      expect(outcome).toMatchObject({ ok: true, attempts: 2, source: 'fallback' });
      expect(clock.sleeps).toEqual([]);
      expect(lines[0]).toBe(
        `↷ docker.io/library/postgres:16: the mirror could not serve ${MIRROR}/library/postgres:16 (the image or tag does not exist (manifest unknown)); pulling from Docker Hub`,
      );
    });

    it('falls back when the mirror refuses access (e.g. not logged in to it)', async () => {
      const { run } = setup(['redis'], { [`${MIRROR}/library/redis:latest`]: [daemon('no basic auth credentials')] }, { mirror: MIRROR });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: true, source: 'fallback', attempts: 2 });
    });

    it(`retries a failing mirror at most ${MIRROR_MAX_ATTEMPTS} times, then sends the rest straight to Docker Hub`, async () => {
      const { docker, run, lines } = setup(
        ['redis', 'postgres:16'],
        { [`${MIRROR}/library/redis:latest`]: [UNAVAILABLE, UNAVAILABLE, UNAVAILABLE] },
        { mirror: MIRROR, concurrency: 1 },
      );
      const outcomes = await run();
      expect(docker.calls.filter((c) => c.startsWith('pull'))).toEqual([
        `pull ${MIRROR}/library/redis:latest`,
        `pull ${MIRROR}/library/redis:latest`,
        'pull docker.io/library/redis:latest',
        'pull docker.io/library/postgres:16',
      ]);
      expect(outcomes).toMatchObject([
        { ok: true, attempts: 3, source: 'fallback' },
        { ok: true, attempts: 1, source: 'registry' },
      ]);
      expect(lines).toContain(`mirror ${MIRROR} is failing (the registry answered with a server error (5xx)); the remaining Docker Hub images go straight to Docker Hub`);
    });

    it('does not fall back when the Docker daemon itself is unreachable', async () => {
      const { docker, run } = setup(['redis'], { [`${MIRROR}/library/redis:latest`]: [NO_DAEMON] }, { mirror: MIRROR });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: false, attempts: 1, category: 'engine' });
      expect(docker.calls).toEqual([`pull ${MIRROR}/library/redis:latest`]);
    });

    it('names both failures when neither the mirror nor Docker Hub has the image', async () => {
      const { run } = setup(['postgres:99'], { [`${MIRROR}/library/postgres:99`]: [MANIFEST_UNKNOWN], 'docker.io/library/postgres:99': [MANIFEST_UNKNOWN] }, { mirror: MIRROR });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: false, attempts: 2, category: 'not-found', mirror: 'the mirror lacked it (manifest unknown)' });
    });

    it('pulls a digest-only reference from Docker Hub, since a mirrored copy could not carry its name', async () => {
      const digest = `sha256:${'e'.repeat(64)}`;
      const { docker, run } = setup([`redis@${digest}`], {}, { mirror: MIRROR });
      const [outcome] = await run();
      expect(docker.calls[0]).toBe(`pull docker.io/library/redis@${digest}`);
      expect(outcome).toMatchObject({ ok: true, source: 'registry', digest, note: expect.stringMatching(/pinned by digest/) });
    });

    it('tags a tag+digest reference with its tag', async () => {
      const digest = `sha256:${'e'.repeat(64)}`;
      const { docker, run } = setup([`redis:7@${digest}`], {}, { mirror: MIRROR });
      await run();
      expect(docker.calls.slice(0, 2)).toEqual([`pull ${MIRROR}/library/redis:7@${digest}`, `tag ${MIRROR}/library/redis:7@${digest} docker.io/library/redis:7`]);
    });

    it('reports an image it pulled but could not tag as failed', async () => {
      const { run } = setup(['redis'], {}, { mirror: MIRROR }, { failTag: true });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: false, reason: `pulled from the mirror as ${MIRROR}/library/redis:latest but could not tag it as docker.io/library/redis:latest` });
    });
  });

  describe('digests', () => {
    it('asks docker for the digest only when its pull output named none', async () => {
      const { docker, run } = setup(['ghcr.io/a/b:1'], { 'ghcr.io/a/b:1': ['ok-no-digest'] });
      const [outcome] = await run();
      expect(docker.calls).toEqual(['pull ghcr.io/a/b:1', 'digest ghcr.io/a/b:1']);
      expect(outcome).toMatchObject({ ok: true, digest: digestOf('a/b') });
    });

    it('takes a pinned digest as given', async () => {
      const digest = `sha256:${'f'.repeat(64)}`;
      const { docker, run } = setup([`ghcr.io/a/b@${digest}`], { [`ghcr.io/a/b@${digest}`]: ['ok-no-digest'] });
      const [outcome] = await run();
      expect(docker.calls).toEqual([`pull ghcr.io/a/b@${digest}`]);
      expect(outcome).toMatchObject({ ok: true, digest });
    });
  });

  describe('images the engine already holds', () => {
    const digest = `sha256:${'d'.repeat(64)}`;
    const pinned = `ghcr.io/a/b@${digest}`;

    it('reports a held digest as present without pulling, and tells beforePulls only what will be pulled', async () => {
      const { docker, lines } = setup([]);
      docker.engine.set(pinned, 5_000_000);
      docker.engine.set('ghcr.io/a/c:1', 7_000_000);
      let toPull: string[] = [];
      const plan: PullPlan = { images: [pinned, 'ghcr.io/a/c:1'].map(parseReference), concurrency: 2, maxAttempts: 5, platform: undefined, mirror: undefined };
      const outcomes = await runPulls(plan, {
        docker,
        now: () => 0,
        retry: { sleep: () => Promise.resolve(), random: () => 0 },
        report: (line) => lines.push(line),
        beforePulls: (refs) => {
          toPull = refs.map((ref) => ref.normalized);
          return Promise.resolve();
        },
      });
      expect(toPull).toEqual(['ghcr.io/a/c:1']);
      expect(docker.calls).toEqual(['pull ghcr.io/a/c:1']);
      expect(outcomes[0]).toMatchObject({ ok: true, source: 'present', attempts: 0, digest, sizeBytes: 5_000_000 });
      // The tag is pulled (a tag can move); its size comes from the one inspect at the end.
      expect(outcomes[1]).toMatchObject({ ok: true, source: 'registry', attempts: 1, sizeBytes: 7_000_000 });
    });

    it('pulls a held digest when another platform was asked for', async () => {
      const { docker, run } = setup([pinned], {}, { platform: 'linux/arm64' });
      docker.engine.set(pinned, 1);
      const [outcome] = await run();
      expect(docker.calls).toEqual([`pull ${pinned} --platform linux/arm64`]);
      expect(outcome).toMatchObject({ ok: true, source: 'registry' });
    });

    it('matches platforms as docker does', () => {
      expect(samePlatform('linux/arm64/v8', 'linux/arm64')).toBe(true);
      expect(samePlatform('linux/arm64', 'linux/arm64/v8')).toBe(false);
      expect(samePlatform('linux/amd64', 'linux/arm64')).toBe(false);
      expect(samePlatform(undefined, 'linux/amd64')).toBe(false);
    });
  });

  describe('asking the registry how long to wait', () => {
    it('waits as long as the registry says after a 429, and says so', async () => {
      const probe = fakeProbe(3000);
      const { clock, run, lines } = setup(['ghcr.io/a/b:1'], { 'ghcr.io/a/b:1': [TOO_MANY] }, {}, { probeWait: probe.probeWait });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: true, attempts: 2 });
      expect(probe.asked).toEqual(['ghcr.io/a/b:1']);
      expect(clock.sleeps).toEqual([3000]);
      expect(lines[0]).toBe('… ghcr.io/a/b:1: attempt 1 of 5 failed (rate limited by the registry (429 toomanyrequests)); the registry asked to wait 3 s; retrying in 3.0 s');
    });

    it('asks after a 5xx too, once per retry and never after the last attempt', async () => {
      const probe = fakeProbe(undefined, 5000);
      const { clock, run } = setup(['ghcr.io/a/b:1'], { 'ghcr.io/a/b:1': [UNAVAILABLE, UNAVAILABLE, UNAVAILABLE] }, { maxAttempts: 3 }, { probeWait: probe.probeWait });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: false, attempts: 3, category: 'server' });
      expect(probe.asked).toHaveLength(2);
      // No stated wait: backoff (¾ of 1 s); then the stated 5 s, longer than the backoff.
      expect(clock.sleeps).toEqual([750, 5000]);
    });

    it('keeps the ordinary backoff when the backoff is longer than the stated wait', async () => {
      const probe = fakeProbe(100);
      const { clock, run, lines } = setup(['ghcr.io/a/b:1'], { 'ghcr.io/a/b:1': [TOO_MANY] }, {}, { probeWait: probe.probeWait });
      await run();
      expect(clock.sleeps).toEqual([750]);
      expect(lines[0]).toMatch(/; the registry asked to wait 0\.1 s; retrying in 0\.8 s$/);
    });

    it('cuts a long stated wait to the cap and says so', async () => {
      const probe = fakeProbe(3_600_000);
      const { clock, run, lines } = setup(['ghcr.io/a/b:1'], { 'ghcr.io/a/b:1': [TOO_MANY] }, {}, { probeWait: probe.probeWait });
      await run();
      expect(clock.sleeps).toEqual([60_000]);
      expect(lines[0]).toMatch(/; the registry asked to wait 3600 s \(regauth waits at most 60 s\); retrying in 60\.0 s$/);
    });

    it('falls back to the ordinary backoff when the probe fails', async () => {
      const probe = fakeProbe(new Error('boom'));
      const { clock, run } = setup(['ghcr.io/a/b:1'], { 'ghcr.io/a/b:1': [TOO_MANY] }, {}, { probeWait: probe.probeWait });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: true, attempts: 2 });
      expect(clock.sleeps).toEqual([750]);
    });

    it.each([
      ['a reset connection', RESET],
      ['a permanent failure', MANIFEST_UNKNOWN],
      ['a wait docker already quoted', daemon('toomanyrequests: retry-after: 7s')],
    ])('does not ask after %s', async (_name, output) => {
      const probe = fakeProbe(3000);
      const { run } = setup(['ghcr.io/a/b:1'], { 'ghcr.io/a/b:1': [output] }, {}, { probeWait: probe.probeWait });
      await run();
      expect(probe.asked).toEqual([]);
    });

    it('asks the mirror about the mirror’s refusal', async () => {
      const probe = fakeProbe(2000);
      const { run, clock } = setup(['redis:7'], { [`${MIRROR}/library/redis:7`]: [TOO_MANY] }, { mirror: MIRROR }, { probeWait: probe.probeWait });
      const [outcome] = await run();
      expect(outcome).toMatchObject({ ok: true, source: 'mirror', attempts: 2 });
      expect(probe.asked).toEqual([`${MIRROR}/library/redis:7`]);
      expect(clock.sleeps).toEqual([2000]);
    });
  });
});
