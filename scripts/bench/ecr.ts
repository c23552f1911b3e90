/**
 * regauth/ecr-oidc-login against what users run today: the AWS CLI v2 assuming the role with the
 * job's OIDC token, then `aws ecr get-login-password | docker login`. Both are job steps, timed from
 * the step's bash starting to docker being logged in, against the local AWS stack (OIDC issuer,
 * STS, ECR on 127.0.0.1) and a local registry, through a real dockerd (as on a machine executor,
 * where the daemon checks the login with the registry). Goal (issue 26): regauth at most 0.15× the time,
 * refresh on (the default); a breakdown of one traced run is printed after the table.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { missingTools } from '../../testbed/tools.ts';
import { formatRatio, formatSeconds, formatTable, median } from './stats.ts';
import type { BenchResult } from './types.ts';

export interface EcrBenchOptions {
  /** Timed runs of each contender, alternating; one untimed warm-up run of each comes first. */
  rounds: number;
  /** The goal: regauth's median at most this fraction of the AWS CLI path's median. */
  goalRatio: number;
}

export const ECR_BENCH_DEFAULTS: EcrBenchOptions = { rounds: 7, goalRatio: 0.15 };

const AWS_CLI = '/usr/bin/aws';
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const PASSWORD = 'ecr-bench-pw-6a2d';

/**
 * The usual hand-written step. The token goes through a file (file://), the keys through the
 * environment, the password through a pipe. This AWS CLI predates AWS_ENDPOINT_URL_*, so each
 * call names its endpoint; the registry host is ECR's proxyEndpoint for this stack.
 */
const AWS_CLI_STEP = [
  'printf "%s" "$CIRCLE_OIDC_TOKEN_V2" > "$TOKEN_FILE"',
  `read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN < <(${AWS_CLI} sts assume-role-with-web-identity --endpoint-url "$STS_URL" --region us-east-1 \\`,
  '  --role-arn "$ROLE_ARN" --role-session-name "bench-$CIRCLE_BUILD_NUM" --web-identity-token "file://$TOKEN_FILE" \\',
  "  --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)",
  'export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN',
  `${AWS_CLI} ecr get-login-password --endpoint-url "$ECR_URL" --region us-east-1 | docker login --username AWS --password-stdin "$REGISTRY_HOST"`,
].join('\n');

type Contender = 'regauth' | 'awscli';

interface Stack {
  aws: LocalAws;
  registry: Registry;
  engine: Engine;
  orb: Orb;
  jobs: JobContext[];
}

async function setUp(): Promise<Stack> {
  const missing = missingTools(['dockerd', 'docker', 'docker-registry', 'htpasswd', 'openssl', AWS_CLI]);
  if (missing.length > 0) throw new Error(`the ecr bench needs ${missing.join(', ')} (bash scripts/install-system-packages.sh installs them)`);
  const orb = loadOrb();
  const [registry, engine] = await Promise.all([startRegistry({ auth: 'htpasswd', users: { AWS: PASSWORD } }), startEngine()]);
  const aws = await startLocalAws({ roles: { [ROLE]: { subPattern: 'org/*' } }, ecrPassword: PASSWORD, proxyEndpoints: { [ACCOUNT]: registry.url } });
  console.log(`ecr bench: STS + ECR on loopback, registry ${registry.host} through dockerd (${engine.storageDriver}), ${availableParallelism()} CPUs, ${process.version}`);
  return { aws, registry, engine, orb, jobs: [] };
}

async function tearDown(stack: Partial<Stack>): Promise<void> {
  await Promise.allSettled([stack.aws?.stop(), stack.registry?.stop(), stack.engine?.stop()]);
  for (const job of stack.jobs ?? []) rmSync(job.cwd, { recursive: true, force: true });
}

/** A fresh job (own HOME, DOCKER_CONFIG, BASH_ENV) holding a fresh token, as a new CircleCI job would. */
async function freshJob(stack: Stack): Promise<JobContext> {
  const job = newJob({
    ...stack.aws.endpointEnv(),
    CIRCLE_OIDC_TOKEN_V2: await stack.aws.mintToken(),
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    DOCKER_HOST: stack.engine.dockerHost,
  });
  job.env.DOCKER_CONFIG = join(job.cwd, 'docker-config');
  stack.jobs.push(job);
  return job;
}

/** One run: the step timed, then checked (exit 0, the registry in the docker config, 1 STS + 1 ECR request). */
async function timedRun(stack: Stack, contender: Contender): Promise<number> {
  const job = await freshJob(stack);
  const extra = { TOKEN_FILE: join(job.cwd, 'oidc-token'), STS_URL: stack.aws.urls.sts, ECR_URL: stack.aws.urls.ecr, ROLE_ARN: ROLE, REGISTRY_HOST: stack.registry.host };
  stack.aws.resetCounters();
  const started = performance.now();
  const result = contender === 'regauth' ? await runOrbCommand(stack.orb, 'ecr-oidc-login', { role_arn: ROLE }, job) : await runUserStep(job, AWS_CLI_STEP, extra);
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`${contender} run failed (exit ${result.exitCode}): ${result.stderr.trim().split('\n').pop() ?? ''}`);
  const config = join(job.env.DOCKER_CONFIG ?? '', 'config.json');
  const auths = existsSync(config) ? ((JSON.parse(readFileSync(config, 'utf8')) as { auths?: Record<string, unknown> }).auths ?? {}) : {};
  if (!(stack.registry.host in auths)) throw new Error(`${contender} run left docker without a login to ${stack.registry.host}`);
  const requests = [stack.aws.count('sts', 'AssumeRoleWithWebIdentity'), stack.aws.count('ecr', 'GetAuthorizationToken')];
  if (requests.join() !== '1,1') throw new Error(`${contender} run made ${requests[0]} STS and ${requests[1]} ECR requests, expected 1 and 1`);
  return seconds;
}

/**
 * Where regauth's step time goes, from one extra untimed run with node under strace (execve and
 * connect only, timestamps in microseconds): bash and the launcher until node starts; node start,
 * bundle decompression, compile, SDK construction and the token until STS is dialled; STS until
 * ECR is dialled; ECR and the helper install until docker login starts; docker login; the rest.
 * strace slows every traced call a little, so the parts add up to more than a timed run.
 */
export async function ecrBreakdown(stack: Stack): Promise<string[]> {
  const job = await freshJob(stack);
  const shim = join(job.cwd, 'trace-shim');
  const trace = join(job.cwd, 'node.strace');
  mkdirSync(shim, { recursive: true });
  const realNode = process.execPath;
  writeFileSync(join(shim, 'node'), `#!/bin/bash\nexec strace -f -q --seccomp-bpf -ttt -e trace=execve,connect -e signal=none -o '${trace}' '${realNode}' "$@"\n`);
  chmodSync(join(shim, 'node'), 0o755);
  const stepStart = Date.now() / 1000;
  const result = await runOrbCommand(stack.orb, 'ecr-oidc-login', { role_arn: ROLE }, job, { extraEnv: { PATH: `${shim}:${job.env.PATH ?? process.env.PATH ?? ''}` } });
  const stepEnd = Date.now() / 1000;
  if (result.exitCode !== 0 || !existsSync(trace)) return [`breakdown: the traced run failed (exit ${result.exitCode})`];
  const lines = readFileSync(trace, 'utf8').split('\n');
  const at = (pattern: RegExp): number | undefined => {
    const line = lines.find((candidate) => pattern.test(candidate));
    return line === undefined ? undefined : Number(line.split(/\s+/)[1]);
  };
  const port = (url: string): string => new URL(url).port;
  const nodeStart = at(/execve\("[^"]*node"/);
  const sts = at(new RegExp(`connect\\(.*htons\\(${port(stack.aws.urls.sts)}\\)`));
  const ecr = at(new RegExp(`connect\\(.*htons\\(${port(stack.aws.urls.ecr)}\\)`));
  // docker's verdict on the login: the engine asked over its socket (a local engine, refresh on),
  // or the docker CLI's `docker login` (any other engine, refresh off).
  const socket = stack.engine.dockerHost.replace(/^unix:\/\//, '');
  const engineAsked = at(new RegExp(`connect\\(.*sun_path="${socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
  const dockerPid = lines.find((line) => /execve\("[^"]*\/docker", \["docker", "login"/.test(line))?.split(/\s+/)[0];
  const dockerStart = at(/execve\("[^"]*\/docker", \["docker", "login"/);
  const dockerEnd = dockerPid === undefined ? undefined : Number(lines.filter((line) => line.startsWith(`${dockerPid} `)).at(-1)?.split(/\s+/)[1]);
  const span = (from: number | undefined, to: number | undefined): string => (from === undefined || to === undefined || !Number.isFinite(to) ? '?' : `${Math.round((to - from) * 1000)} ms`);
  const head = [
    `breakdown of one traced regauth run (strace on execve/connect; step ${Math.round((stepEnd - stepStart) * 1000)} ms in all):`,
    `  bash + launcher until node starts                                          ${span(stepStart, nodeStart)}`,
    `  node start, bundle decompression + compile, SDK construction, token → STS   ${span(nodeStart, sts)}`,
    `  STS AssumeRoleWithWebIdentity, until ECR is dialled                         ${span(sts, ecr)}`,
  ];
  if (dockerStart === undefined) {
    return [
      ...head,
      `  ECR GetAuthorizationToken, until the engine is asked                        ${span(ecr, engineAsked)}`,
      `  helper install while the engine judges the login (no docker CLI), node exit ${span(engineAsked, stepEnd)}`,
    ];
  }
  return [
    ...head,
    `  ECR GetAuthorizationToken + credential helper install, until docker login   ${span(ecr, dockerStart)}`,
    `  docker login (the docker CLI, the engine checking with the registry)        ${span(dockerStart, dockerEnd)}`,
    `  after docker login until the step ends (exports, node exit)                 ${span(dockerEnd, stepEnd)}`,
  ];
}

export async function ecrBench(overrides: Partial<EcrBenchOptions> = {}): Promise<BenchResult> {
  const options = { ...ECR_BENCH_DEFAULTS, ...overrides };
  const stack: Partial<Stack> = {};
  try {
    Object.assign(stack, await setUp());
    const ready = stack as Stack;
    const warm = { regauth: await timedRun(ready, 'regauth'), awscli: await timedRun(ready, 'awscli') };
    console.log(`  warm-up (not counted): regauth ${formatSeconds(warm.regauth)}, AWS CLI ${formatSeconds(warm.awscli)}`);
    const times: Record<Contender, number[]> = { regauth: [], awscli: [] };
    for (let round = 0; round < options.rounds; round++) {
      // Alternate who goes first, so a drift in the machine's speed hits each alike.
      const order: Contender[] = round % 2 === 0 ? ['regauth', 'awscli'] : ['awscli', 'regauth'];
      for (const contender of order) times[contender].push(await timedRun(ready, contender));
      console.log(`  round ${round + 1}: regauth ${formatSeconds(times.regauth[round] ?? 0)}, AWS CLI ${formatSeconds(times.awscli[round] ?? 0)}`);
    }
    const regauth = median(times.regauth);
    const awscli = median(times.awscli);
    const ratio = regauth / awscli;
    const rows = times.regauth.map((seconds, round) => [String(round + 1), formatSeconds(seconds), formatSeconds(times.awscli[round] ?? 0)]);
    rows.push(['median', formatSeconds(regauth), formatSeconds(awscli)]);
    console.log('');
    for (const line of formatTable(['run', 'regauth/ecr-oidc-login', 'aws sts + aws ecr get-login-password | docker login'], rows, new Set([1, 2]))) console.log(line);
    console.log(`ratio regauth / AWS CLI: ${formatRatio(ratio)}`);
    if (missingTools(['strace']).length === 0) for (const line of await ecrBreakdown(ready)) console.log(line);
    else console.log('breakdown: strace is not installed, so no breakdown');
    const met = ratio <= options.goalRatio;
    console.log(`ratio unrounded: ${ratio.toFixed(4)} (${(regauth * 1000).toFixed(0)} ms / ${(awscli * 1000).toFixed(0)} ms)`);
    const verdict = `ecr: regauth/ecr-oidc-login takes ${formatRatio(ratio)} the AWS CLI path's time (${formatSeconds(regauth)} vs ${formatSeconds(awscli)}); goal ≤ ${formatRatio(options.goalRatio)}: ${met ? 'met' : 'MISSED'}`;
    console.log(verdict);
    return { name: 'ecr', verdict, met };
  } finally {
    await tearDown(stack);
  }
}
