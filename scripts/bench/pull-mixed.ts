/**
 * The set a user actually pulls: 10 images on two shared base layers, own layers from 0.3 MB to
 * 48 MB (160× apart), listed the way people list them (the biggest last), behind a CDN-like link
 * (latency each way, a bandwidth cap per connection). regauth/pull against what the user would
 * write instead: `xargs -P 4 docker pull`, and `docker-compose pull` of the same images (Debian's
 * 1.29 starts every pull at once; `docker compose` where the plugin exists).
 * Goals: regauth ≤ 0.80× xargs and ≤ 0.90× compose, medians of one run.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { imagesIn, removeAllImages, startEngine, type Engine } from '../../testbed/engine.ts';
import { fillerBytes, makeLayer, ociImage, type Layer } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { missingTools } from '../../testbed/tools.ts';
import { startLinkProxy, type LinkProxy } from './link-proxy.ts';
import { formatMegabytes, formatRatio, formatSeconds, formatTable, median } from './stats.ts';
import type { BenchResult } from './types.ts';

export interface MixedBenchOptions {
  latencyMs: number;
  bytesPerSecond: number;
  rounds: number;
  goalVsXargs: number;
  goalVsCompose: number;
}

export const MIXED_BENCH_DEFAULTS: MixedBenchOptions = { latencyMs: 20, bytesPerSecond: 6_000_000, rounds: 3, goalVsXargs: 0.8, goalVsCompose: 0.9 };

const MB = 1_000_000;
/** In the order listed: [shared base, own layer bytes]. */
const SET: readonly (readonly ['a' | 'b', number])[] = [
  ['a', 6 * MB],
  ['a', 0.3 * MB],
  ['b', 14 * MB],
  ['a', 2 * MB],
  ['b', 30 * MB],
  ['a', 1 * MB],
  ['b', 10 * MB],
  ['a', 4 * MB],
  ['b', 20 * MB],
  ['b', 48 * MB],
];
const BASES = { a: 2 * MB, b: 5 * MB } as const;

const USER = 'bench';
const PASSWORD = 'pull-mixed-pw-71c2';
const XARGS_STEP = 'printf \'%s\\n\' $BENCH_IMAGES | xargs -P 4 -n 1 docker pull -q >/dev/null';

function fillerLayer(seed: string, size: number): Layer {
  return makeLayer([{ name: `${seed}`, type: 'file', data: fillerBytes(seed, size) }], 1);
}

/** Pushes blobs and the manifest over the registry API (monolithic uploads). */
async function push(registry: Registry, name: string, tag: string, layers: readonly Layer[]): Promise<void> {
  const image = ociImage(layers, `${name}:${tag}`);
  const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  for (const [digest, data] of image.blobs) {
    const head = await fetch(`${registry.url}/v2/${name}/blobs/${digest}`, { method: 'HEAD', headers: { authorization: auth } });
    if (head.status === 200) continue;
    const start = await fetch(`${registry.url}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
    const location = start.headers.get('location');
    if (start.status !== 202 || location === null) throw new Error(`upload to ${name} refused: ${start.status}`);
    const url = new URL(location, registry.url);
    url.searchParams.set('digest', digest);
    const put = await fetch(url, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/octet-stream' }, body: data });
    if (put.status !== 201) throw new Error(`blob ${digest} to ${name}: ${put.status} ${await put.text()}`);
  }
  const manifest = await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: image.manifest,
  });
  if (manifest.status !== 201) throw new Error(`manifest ${name}:${tag}: ${manifest.status} ${await manifest.text()}`);
}

interface Stack {
  registry: Registry;
  engine: Engine;
  proxy: LinkProxy;
  orb: Orb;
  job: JobContext;
  refs: string[];
  compose: string;
}

type Contender = 'regauth' | 'xargs' | 'compose';

async function timedRun(stack: Stack, contender: Contender): Promise<number> {
  await removeAllImages(stack.engine);
  const started = performance.now();
  const env = { BENCH_IMAGES: stack.refs.join(' ') };
  const result =
    contender === 'regauth'
      ? await runOrbCommand(stack.orb, 'pull', { images: stack.refs.join(' ') }, stack.job)
      : await runUserStep(stack.job, contender === 'xargs' ? XARGS_STEP : stack.compose, env);
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`${contender} run failed (exit ${result.exitCode}): ${result.stderr.trim().slice(-400)}`);
  const held = new Set((await imagesIn(stack.engine)).flatMap((image) => image.repoTags));
  const absent = stack.refs.filter((ref) => !held.has(ref));
  if (absent.length > 0) throw new Error(`${contender} left ${absent.join(', ')} unpulled`);
  if (contender === 'regauth' && process.env.BENCH_VERBOSE === '1') console.log(result.stdout);
  return seconds;
}

async function composeCommand(job: JobContext): Promise<string> {
  // The plugin where it exists, else Debian's docker-compose 1.29.
  const plugin = await runUserStep(job, 'docker compose version >/dev/null 2>&1');
  return plugin.exitCode === 0 ? 'docker compose' : 'docker-compose';
}

export async function mixedPullBench(overrides: Partial<MixedBenchOptions> = {}): Promise<BenchResult> {
  const options = { ...MIXED_BENCH_DEFAULTS, ...overrides };
  const missing = missingTools(['dockerd', 'docker', 'docker-registry', 'htpasswd']);
  if (missing.length > 0) throw new Error(`the mixed pull bench needs ${missing.join(', ')}`);
  const stack: Partial<Stack> = {};
  try {
    const [registry, engine] = await Promise.all([startRegistry({ auth: 'htpasswd', tls: false, users: { [USER]: PASSWORD } }), startEngine()]);
    Object.assign(stack, { registry, engine });
    const bases = { a: fillerLayer('base-a', BASES.a), b: fillerLayer('base-b', BASES.b) };
    const names = SET.map((_, index) => `mixed/image-${index + 1}`);
    for (const [index, [base, size]] of SET.entries()) await push(registry, names[index] ?? '', 'v1', [bases[base], fillerLayer(`own-${index}`, size)]);
    const proxy = await startLinkProxy({ target: registry.url, latencyMs: options.latencyMs, bytesPerSecond: options.bytesPerSecond });
    stack.proxy = proxy;
    const refs = names.map((name) => `${proxy.host}/${name}:v1`);
    const job = newJob({ DOCKER_HOST: engine.dockerHost, BENCH_USER: USER, BENCH_PASS: PASSWORD });
    job.env.DOCKER_CONFIG = join(job.cwd, 'docker-config');
    const orb = loadOrb();
    const login = await runOrbCommand(orb, 'login', { registry: proxy.host, username: 'BENCH_USER', password: 'BENCH_PASS' }, job);
    if (login.exitCode !== 0) throw new Error(`regauth/login failed: ${login.stderr.trim()}`);
    const composeFile = join(job.cwd, 'compose.yml');
    writeFileSync(composeFile, `services:\n${refs.map((ref, index) => `  s${index + 1}:\n    image: ${ref}\n`).join('')}`);
    const compose = `${await composeCommand(job)} -f ${composeFile} pull -q`;
    Object.assign(stack, { orb, job, refs, compose });
    const total = SET.reduce((sum, [, size]) => sum + size, BASES.a + BASES.b);
    console.log(
      `pull bench (mixed): 10 images, ${formatMegabytes(total)} in all, two shared bases (${formatMegabytes(BASES.a)}, ${formatMegabytes(BASES.b)}), own layers 0.3–48 MB with the biggest listed last, ` +
        `${options.latencyMs} ms each way, ${formatMegabytes(options.bytesPerSecond)}/s per connection, ${options.rounds} rounds; compose: ${compose.split(' -f ')[0] ?? ''}`,
    );
    const ready = stack as Stack;
    const times: Record<Contender, number[]> = { regauth: [], xargs: [], compose: [] };
    const rotations: Contender[][] = [
      ['regauth', 'xargs', 'compose'],
      ['xargs', 'compose', 'regauth'],
      ['compose', 'regauth', 'xargs'],
    ];
    for (let round = 0; round < options.rounds; round++) {
      for (const contender of rotations[round % rotations.length] ?? []) times[contender].push(await timedRun(ready, contender));
      console.log(`  round ${round + 1}: regauth ${formatSeconds(times.regauth[round] ?? 0)}, xargs -P 4 ${formatSeconds(times.xargs[round] ?? 0)}, compose ${formatSeconds(times.compose[round] ?? 0)}`);
    }
    const regauth = median(times.regauth);
    const xargs = median(times.xargs);
    const composed = median(times.compose);
    const rows = times.regauth.map((seconds, round) => [String(round + 1), formatSeconds(seconds), formatSeconds(times.xargs[round] ?? 0), formatSeconds(times.compose[round] ?? 0)]);
    rows.push(['median', formatSeconds(regauth), formatSeconds(xargs), formatSeconds(composed)]);
    console.log('');
    for (const line of formatTable(['run', 'regauth/pull', 'xargs -P 4 docker pull', 'compose pull'], rows, new Set([1, 2, 3]))) console.log(line);
    const met = regauth / xargs <= options.goalVsXargs && regauth / composed <= options.goalVsCompose;
    const verdict =
      `pull (mixed): regauth/pull ${formatSeconds(regauth)} vs xargs -P 4 ${formatSeconds(xargs)} (${formatRatio(regauth / xargs)}, goal ≤ ${formatRatio(options.goalVsXargs)}) ` +
      `and compose pull ${formatSeconds(composed)} (${formatRatio(regauth / composed)}, goal ≤ ${formatRatio(options.goalVsCompose)}): ${met ? 'met' : 'MISSED'}`;
    console.log(verdict);
    return { name: 'pull-mixed', verdict, met };
  } finally {
    await Promise.allSettled([stack.proxy?.stop(), stack.registry?.stop(), stack.engine?.stop()]);
  }
}
