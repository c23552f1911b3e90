/**
 * regauth/gcp-oidc-login against what users run today: gcloud logging in with an external-account
 * file that reads the job token (`gcloud auth login --cred-file`), then
 * `gcloud auth print-access-token | docker login`. Both are job steps, timed from the step's bash
 * starting to docker being logged in, against the local Google (issuer, STS, IAM Credentials on
 * 127.0.0.1) and a token-auth registry that takes the access token, through a real dockerd.
 * Goals: regauth's step at most 0.35 s, its run step at most 40 KiB. Without gcloud (CI machines)
 * the peer is skipped with one line and only regauth is timed.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { externalAccountConfig } from '../../src/clouds/gcp/index.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { missingTools } from '../../testbed/tools.ts';
import { bundleCommand, stepBytes } from '../build.ts';
import { formatRatio, formatSeconds, formatTable, median } from './stats.ts';
import type { BenchResult } from './types.ts';

export interface GcpBenchOptions {
  /** Timed runs of each contender, alternating; one untimed warm-up run of each comes first. */
  rounds: number;
  /** regauth's median step time, seconds. */
  goalSeconds: number;
  /** The run step's size, bytes. */
  goalRunStepBytes: number;
}

export const GCP_BENCH_DEFAULTS: GcpBenchOptions = { rounds: 7, goalSeconds: 0.35, goalRunStepBytes: 40 * 1024 };

const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';

/** The usual hand-written step: the token to a file, gcloud logs in with the file, its token to docker on stdin. */
const GCLOUD_STEP = [
  'printf "%s" "$CIRCLE_OIDC_TOKEN_V2" > "$TOKEN_FILE"',
  'gcloud auth login --quiet --cred-file="$CRED_FILE" >/dev/null 2>&1',
  'gcloud auth print-access-token | docker login --username oauth2accesstoken --password-stdin "$REGISTRY_HOST"',
].join('\n');

type Contender = 'regauth' | 'gcloud';

interface Stack {
  google: LocalGoogle;
  registry: Registry;
  engine: Engine;
  orb: Orb;
  jobs: JobContext[];
}

async function setUp(): Promise<Stack> {
  const missing = missingTools(['dockerd', 'docker', 'docker-registry', 'htpasswd', 'openssl']);
  if (missing.length > 0) throw new Error(`the gcp bench needs ${missing.join(', ')} (bash scripts/install-system-packages.sh installs them)`);
  const orb = loadOrb();
  const google = await startLocalGoogle({ attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
  google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
  const hooks = google.registryAuth([`serviceAccount:${SA}`]);
  const [registry, engine] = await Promise.all([startRegistry({ auth: 'token', users: {}, token: hooks }), startEngine()]);
  console.log(`gcp bench: STS + IAM Credentials on loopback, token-auth registry ${registry.host} through dockerd (${engine.storageDriver}), ${availableParallelism()} CPUs, ${process.version}`);
  return { google, registry, engine, orb, jobs: [] };
}

async function tearDown(stack: Partial<Stack>): Promise<void> {
  await Promise.allSettled([stack.google?.stop(), stack.registry?.stop(), stack.engine?.stop()]);
  for (const job of stack.jobs ?? []) rmSync(job.cwd, { recursive: true, force: true });
}

async function freshJob(stack: Stack): Promise<JobContext> {
  const job = newJob({
    ...stack.google.endpointEnv(),
    CIRCLE_OIDC_TOKEN_V2: await stack.google.mintToken(),
    GCP_WORKLOAD_IDENTITY_PROVIDER: stack.google.providerName,
    GCP_SERVICE_ACCOUNT: SA,
    DOCKER_HOST: stack.engine.dockerHost,
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
  });
  job.env.DOCKER_CONFIG = join(job.cwd, 'docker-config');
  job.env.CLOUDSDK_CONFIG = join(job.cwd, 'gcloud');
  stack.jobs.push(job);
  return job;
}

/** One run: the step timed, then checked (exit 0, the registry in the docker config, 1 STS + 1 IAM request). */
async function timedRun(stack: Stack, contender: Contender): Promise<number> {
  const job = await freshJob(stack);
  const tokenFile = join(job.cwd, 'oidc-token');
  const credFile = join(job.cwd, 'cred.json');
  const settings = { workloadIdentityProvider: stack.google.providerName, serviceAccount: SA, tokenLifetimeSeconds: 3600, endpoints: { sts: stack.google.urls.sts, iamCredentials: stack.google.urls.iamCredentials } };
  writeFileSync(credFile, JSON.stringify(externalAccountConfig(settings, { file: tokenFile, format: { type: 'text' } })), { mode: 0o600 });
  stack.google.resetCounters();
  const started = performance.now();
  const result =
    contender === 'regauth'
      ? await runOrbCommand(stack.orb, 'gcp-oidc-login', { registries: stack.registry.host }, job)
      : await runUserStep(job, GCLOUD_STEP, { TOKEN_FILE: tokenFile, CRED_FILE: credFile, REGISTRY_HOST: stack.registry.host });
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`${contender} run failed (exit ${result.exitCode}): ${result.stderr.trim().split('\n').pop() ?? ''}`);
  const config = join(job.env.DOCKER_CONFIG ?? '', 'config.json');
  const auths = existsSync(config) ? ((JSON.parse(readFileSync(config, 'utf8')) as { auths?: Record<string, unknown> }).auths ?? {}) : {};
  if (!(stack.registry.host in auths)) throw new Error(`${contender} run left docker without a login to ${stack.registry.host}`);
  // gcloud may exchange the token more than once (login, then print-access-token); regauth must not.
  if (contender === 'regauth' && [stack.google.count('sts'), stack.google.count('iam')].join() !== '1,1') throw new Error(`regauth made ${stack.google.count('sts')} STS and ${stack.google.count('iam')} IAM requests, expected 1 and 1`);
  return seconds;
}

export async function gcpBench(overrides: Partial<GcpBenchOptions> = {}): Promise<BenchResult> {
  const options = { ...GCP_BENCH_DEFAULTS, ...overrides };
  const stack: Partial<Stack> = {};
  try {
    Object.assign(stack, await setUp());
    const ready = stack as Stack;
    const { code } = await bundleCommand('gcp-oidc-login');
    // The step as YAML (launcher, parameters and payload parts): what it adds to a compiled config.
    const runStep = stepBytes(ready.orb as unknown as Record<string, unknown>).get('gcp-oidc-login') ?? Number.NaN;
    console.log(`  gcp-oidc-login: bundle ${(code.length / 1024).toFixed(1)} KiB, run step ${(runStep / 1024).toFixed(1)} KiB`);
    const withGcloud = missingTools(['gcloud']).length === 0;
    if (!withGcloud) console.log('  gcloud is not installed here (it is not on CI machines): timing regauth alone, no gcloud peer');
    const contenders: Contender[] = withGcloud ? ['regauth', 'gcloud'] : ['regauth'];
    const warm: string[] = [];
    for (const contender of contenders) warm.push(`${contender} ${formatSeconds(await timedRun(ready, contender))}`);
    console.log(`  warm-up (not counted): ${warm.join(', ')}`);
    const times: Record<Contender, number[]> = { regauth: [], gcloud: [] };
    for (let round = 0; round < options.rounds; round++) {
      // Alternate who goes first, so a drift in the machine's speed hits each alike.
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) times[contender].push(await timedRun(ready, contender));
      console.log(`  round ${round + 1}: regauth ${formatSeconds(times.regauth[round] ?? 0)}${withGcloud ? `, gcloud ${formatSeconds(times.gcloud[round] ?? 0)}` : ''}`);
    }
    const regauth = median(times.regauth);
    const rows = times.regauth.map((seconds, round) => [String(round + 1), formatSeconds(seconds), withGcloud ? formatSeconds(times.gcloud[round] ?? 0) : '-']);
    const gcloud = withGcloud ? median(times.gcloud) : undefined;
    rows.push(['median', formatSeconds(regauth), gcloud === undefined ? '-' : formatSeconds(gcloud)]);
    console.log('');
    for (const line of formatTable(['run', 'regauth/gcp-oidc-login', 'gcloud auth login --cred-file + print-access-token | docker login'], rows, new Set([1, 2]))) console.log(line);
    const ratio = gcloud === undefined ? '' : `, ${formatRatio(regauth / gcloud)} gcloud's time (${formatSeconds(gcloud)})`;
    if (gcloud !== undefined) console.log(`ratio regauth / gcloud: ${formatRatio(regauth / gcloud)}`);
    const met = regauth <= options.goalSeconds && runStep <= options.goalRunStepBytes;
    const verdict = `gcp: regauth/gcp-oidc-login logs docker in in ${formatSeconds(regauth)}${ratio}; run step ${(runStep / 1024).toFixed(1)} KiB, bundle ${(code.length / 1024).toFixed(1)} KiB; goals ≤ ${formatSeconds(options.goalSeconds)} and ≤ ${(options.goalRunStepBytes / 1024).toFixed(0)} KiB: ${met ? 'met' : 'MISSED'}`;
    console.log(verdict);
    return { name: 'gcp', verdict, met };
  } finally {
    await tearDown(stack);
  }
}
