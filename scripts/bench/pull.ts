/**
 * regauth/pull against the sequential `docker pull` loop CircleCI's docker orb runs, both as
 * job steps through the packed orb, on a real dockerd and a registry behind a proxy that adds
 * latency to every request (a remote registry). Goal: at most 0.45× the sequential time, with
 * progress on (it always is).
 *
 * Second scenario: a few large images behind a bandwidth cap (a slow link), where the transfer
 * is all the time there is: regauth (terminal, progress lines, stall watchdog, inspects) against
 * bare `xargs -P` docker pulls. Goal: within 5%, i.e. progress costs nothing that matters.
 */
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { imagesIn, removeAllImages, startEngine, type Engine } from '../../testbed/engine.ts';
import { startFaultProxy, type FaultProxy } from '../../testbed/fault-proxy.ts';
import { seedImages } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { missingTools } from '../../testbed/tools.ts';
import { formatMegabytes, formatRatio, formatSeconds, formatTable, median } from './stats.ts';
import type { BenchResult } from './types.ts';

export interface PullBenchOptions {
  images: number;
  /** Incompressible filler per image, on top of the shared ~1 MB busybox layer. */
  sizeBytes: number;
  /** Added by the proxy to every request. */
  latencyMs: number;
  /** Runs of each contender; they alternate, and the engine is emptied before every run. */
  rounds: number;
  /** The goal: regauth's median at most this fraction of the sequential median. */
  goalRatio: number;
}

export const PULL_BENCH_DEFAULTS: PullBenchOptions = { images: 10, sizeBytes: 3_000_000, latencyMs: 40, rounds: 5, goalRatio: 0.45 };

export interface CappedBenchOptions {
  images: number;
  sizeBytes: number;
  /** All response bodies together, bytes per second. */
  bytesPerSecond: number;
  rounds: number;
  /** regauth's median at most this much over bare parallel pulls' (0.05 = 5%). */
  maxOverhead: number;
}

export const CAPPED_BENCH_DEFAULTS: CappedBenchOptions = { images: 3, sizeBytes: 40_000_000, bytesPerSecond: 12_000_000, rounds: 3, maxOverhead: 0.05 };

const USER = 'bench';
const PASSWORD = 'pull-bench-pw-3e9b';
// The loop a user writes, or the docker orb generates, for a list of images.
const SEQUENTIAL_STEP = 'for image in $BENCH_IMAGES; do docker pull "$image"; done';
// For reference only: bare parallel pulls at regauth's default concurrency, with nothing else
// (no retries, no digest lookup, no summary). The distance to it is regauth's own overhead.
const BARE_PARALLEL_STEP = 'printf \'%s\\n\' $BENCH_IMAGES | xargs -P 4 -n 1 docker pull -q >/dev/null';

interface Stack {
  registry: Registry;
  engine: Engine;
  proxy: FaultProxy;
  orb: Orb;
  job: JobContext;
  refs: string[];
}

async function setUp(options: PullBenchOptions, scenario: 'latency' | 'capped' = 'latency'): Promise<Stack> {
  const missing = missingTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd']);
  if (missing.length > 0) throw new Error(`the pull bench needs ${missing.join(', ')} (bash scripts/install-system-packages.sh installs them)`);
  const orb = loadOrb();
  const [registry, engine] = await Promise.all([startRegistry({ auth: 'htpasswd', tls: false, users: { [USER]: PASSWORD } }), startEngine()]);
  const proxy = await startFaultProxy({ target: registry.url });
  const names = Array.from({ length: options.images }, (_, index) => `bench/image-${index + 1}`);
  const seeded = await seedImages(
    registry,
    names.map((name) => ({ name, tag: 'v1', sizeBytes: options.sizeBytes })),
  );
  const refs = seeded.map((image) => `${proxy.host}/${image.name}:${image.tag}`);
  const job = newJob({ DOCKER_HOST: engine.dockerHost, BENCH_USER: USER, BENCH_PASS: PASSWORD });
  job.env.DOCKER_CONFIG = join(job.cwd, 'docker-config');
  // Both contenders pull with the docker config the packed login wrote.
  const login = await runOrbCommand(orb, 'login', { registry: proxy.host, username: 'BENCH_USER', password: 'BENCH_PASS' }, job);
  if (login.exitCode !== 0) throw new Error(`regauth/login failed: ${login.stderr.trim()}`);
  proxy.setLatency(options.latencyMs);
  console.log(
    `pull bench (${scenario}): ${options.images} images, each ${formatMegabytes(options.sizeBytes)} of its own plus a shared busybox layer, ` +
      `${options.latencyMs} ms added per registry request, ${options.rounds} rounds, dockerd ${engine.storageDriver}, ${availableParallelism()} CPUs`,
  );
  return { registry, engine, proxy, orb, job, refs };
}

async function tearDown(stack: Partial<Stack>): Promise<void> {
  await Promise.allSettled([stack.proxy?.stop(), stack.registry?.stop(), stack.engine?.stop()]);
  if (stack.job) rmSync(stack.job.cwd, { recursive: true, force: true });
}

type Contender = 'regauth' | 'sequential' | 'bare';

const STEPS: Record<Exclude<Contender, 'regauth'>, string> = { sequential: SEQUENTIAL_STEP, bare: BARE_PARALLEL_STEP };

/** One cold run: the engine emptied, the step timed, every image checked present afterwards. */
async function timedRun(stack: Stack, contender: Contender, step?: string): Promise<number> {
  await removeAllImages(stack.engine);
  const started = performance.now();
  const result =
    contender === 'regauth'
      ? await runOrbCommand(stack.orb, 'pull', { images: stack.refs.join(' ') }, process.env.BENCH_VERBOSE === '1' ? { ...stack.job, env: { ...stack.job.env, REGAUTH_DEBUG: '1' } } : stack.job)
      : await runUserStep(stack.job, step ?? STEPS[contender], { BENCH_IMAGES: stack.refs.join(' ') });
  const seconds = (performance.now() - started) / 1000;
  if (contender === 'regauth' && process.env.BENCH_VERBOSE === '1') console.log(result.stdout.split('\n').filter((line) => line.includes('timing')).join('\n'));
  if (result.exitCode !== 0) throw new Error(`${contender} run failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  const held = new Set((await imagesIn(stack.engine)).flatMap((image) => image.repoTags));
  const absent = stack.refs.filter((ref) => !held.has(ref));
  if (absent.length > 0) throw new Error(`${contender} run left ${absent.length} images unpulled: ${absent.join(', ')}`);
  return seconds;
}

export async function pullBench(overrides: Partial<PullBenchOptions> = {}, capped: Partial<CappedBenchOptions> = {}): Promise<BenchResult> {
  const latency = await latencyBench(overrides);
  const cap = await cappedBench(capped);
  return { name: 'pull', verdict: `${latency.verdict}\n${cap.verdict}`, met: latency.met && cap.met };
}

/** 3 × 40 MB behind a shared bandwidth cap: regauth against bare `xargs -P` docker pulls. */
export async function cappedBench(overrides: Partial<CappedBenchOptions>): Promise<BenchResult> {
  const options = { ...CAPPED_BENCH_DEFAULTS, ...overrides };
  const stack: Partial<Stack> = {};
  try {
    Object.assign(stack, await setUp({ images: options.images, sizeBytes: options.sizeBytes, latencyMs: 0, rounds: options.rounds, goalRatio: 0 }, 'capped'));
    const ready = stack as Stack;
    ready.proxy.setBandwidth(options.bytesPerSecond);
    console.log(`  capped at ${formatMegabytes(options.bytesPerSecond)}/s for all bodies together`);
    const bareStep = `printf '%s\\n' $BENCH_IMAGES | xargs -P ${options.images} -n 1 docker pull -q >/dev/null`;
    const times = { regauth: [] as number[], bare: [] as number[] };
    for (let round = 0; round < options.rounds; round++) {
      const order: ('regauth' | 'bare')[] = round % 2 === 0 ? ['regauth', 'bare'] : ['bare', 'regauth'];
      for (const contender of order) times[contender].push(await timedRun(ready, contender, bareStep));
      console.log(`  round ${round + 1}: regauth ${formatSeconds(times.regauth[round] ?? 0)}, bare xargs -P ${options.images} ${formatSeconds(times.bare[round] ?? 0)}`);
    }
    const regauth = median(times.regauth);
    const bare = median(times.bare);
    const overhead = regauth / bare - 1;
    const rows = times.regauth.map((seconds, round) => [String(round + 1), formatSeconds(seconds), formatSeconds(times.bare[round] ?? 0)]);
    rows.push(['median', formatSeconds(regauth), formatSeconds(bare)]);
    console.log('');
    for (const line of formatTable(['run', 'regauth/pull (progress on)', `xargs -P ${options.images} docker pull`], rows, new Set([1, 2]))) console.log(line);
    const met = overhead <= options.maxOverhead;
    const verdict = `pull (capped): ${options.images} × ${formatMegabytes(options.sizeBytes)} at ${formatMegabytes(options.bytesPerSecond)}/s: regauth/pull ${formatSeconds(regauth)} vs bare parallel ${formatSeconds(bare)} (${formatRatio(regauth / bare)}, ${(overhead * 100).toFixed(1)}% over); goal ≤ ${(options.maxOverhead * 100).toFixed(0)}%: ${met ? 'met' : 'MISSED'}`;
    console.log(verdict);
    return { name: 'pull-capped', verdict, met };
  } finally {
    await tearDown(stack);
  }
}

export async function latencyBench(overrides: Partial<PullBenchOptions>): Promise<BenchResult> {
  const options = { ...PULL_BENCH_DEFAULTS, ...overrides };
  const stack: Partial<Stack> = {};
  try {
    Object.assign(stack, await setUp(options));
    const ready = stack as Stack;
    const times: Record<Contender, number[]> = { regauth: [], sequential: [], bare: [] };
    for (let round = 0; round < options.rounds; round++) {
      // Alternate who goes first, so a drift in the machine's speed hits each alike.
      const order: Contender[] = round % 2 === 0 ? ['regauth', 'sequential', 'bare'] : ['bare', 'sequential', 'regauth'];
      for (const contender of order) times[contender].push(await timedRun(ready, contender));
      const at = (contender: Contender): string => formatSeconds(times[contender][round] ?? 0);
      console.log(`  round ${round + 1}: regauth ${at('regauth')}, sequential ${at('sequential')}, bare xargs -P 4 ${at('bare')}`);
    }
    const regauth = median(times.regauth);
    const sequential = median(times.sequential);
    const bare = median(times.bare);
    const ratio = regauth / sequential;
    const rows = times.regauth.map((seconds, round) => [String(round + 1), formatSeconds(seconds), formatSeconds(times.sequential[round] ?? 0), formatSeconds(times.bare[round] ?? 0)]);
    rows.push(['median', formatSeconds(regauth), formatSeconds(sequential), formatSeconds(bare)]);
    console.log('');
    const header = ['run', 'regauth/pull (concurrency 4)', 'sequential docker pull', 'reference: xargs -P 4 docker pull'];
    for (const line of formatTable(header, rows, new Set([1, 2, 3]))) console.log(line);
    console.log(`ratio regauth / sequential: ${formatRatio(ratio)} (bare parallel pulls: ${formatRatio(bare / sequential)})`);
    const met = ratio <= options.goalRatio;
    const verdict = `pull: regauth/pull takes ${formatRatio(ratio)} the sequential time (${formatSeconds(regauth)} vs ${formatSeconds(sequential)}); goal ≤ ${formatRatio(options.goalRatio)}: ${met ? 'met' : 'MISSED'}`;
    console.log(verdict);
    return { name: 'pull', verdict, met };
  } finally {
    await tearDown(stack);
  }
}
