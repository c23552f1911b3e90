/**
 * docker-credential-regauth (refresh: true): what docker pays on every pull and push.
 * - cached `get`: median wall time of `docker-credential-regauth get` answering from its cache,
 *   against a bare `node -e 0` in the same run (goal: at most 1.5×), and Debian's
 *   amazon-ecr-credential-helper (docker-credential-ecr-login) answering from its own file cache
 *   as the peer a user would install, when it is on the machine;
 * - refresh path: a `get` whose entry is stale (job token minted by a FAKE circleci CLI from the
 *   local issuer, STS, ECR, cache written), against the command's own login time with the same
 *   minting (`audience` set), both measured here; goal: within 0.1 s.
 * Everything runs against the local AWS stack on 127.0.0.1 and a local registry through dockerd.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startConnectProxy, type ConnectProxy } from '../../testbed/connect-proxy.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { fakeCircleci } from '../../testbed/fake-circleci.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, type JobContext } from '../../testbed/step-runner.ts';
import { issueHostCertificate, writeCaBundle, type HostCertificate } from '../../testbed/tls-hosts.ts';
import { missingTools } from '../../testbed/tools.ts';
import { formatRatio, formatTable, median } from './stats.ts';

const ms = (seconds: number): string => `${(seconds * 1000).toFixed(1)} ms`;
import type { BenchResult } from './types.ts';

export interface RefreshBenchOptions {
  cachedRounds: number;
  refreshRounds: number;
  goalCachedRatio: number;
  goalRefreshDeltaSeconds: number;
}

export const REFRESH_BENCH_DEFAULTS: RefreshBenchOptions = { cachedRounds: 41, refreshRounds: 7, goalCachedRatio: 1.5, goalRefreshDeltaSeconds: 0.1 };

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const PASSWORD = 'refresh-bench-pw-41c9';
/** The peer checks ECR's proxyEndpoint, so its account keeps ECR's real host name (nothing is pulled from it). */
const PEER_ACCOUNT = '210987654321';
const ECR_HOST = `${PEER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const ECR_API = 'api.ecr.us-east-1.amazonaws.com';
const PEER = 'docker-credential-ecr-login';

/** Wall time of one run, spawned asynchronously: the local AWS in this process must keep answering meanwhile. */
function timed(command: string, args: readonly string[], input: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0 || /regauth: could not refresh/.test(output)) reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}): ${output.trim().split('\n').pop() ?? ''}`));
      else resolve(seconds);
    });
    child.stdin.end(input);
  });
}

interface Stack {
  aws: LocalAws;
  registry: Registry;
  engine: Engine;
  proxy?: ConnectProxy;
  cert?: HostCertificate;
}

/** The peer, pointed at the local ECR through a CONNECT proxy that presents a certificate for ECR's API host. */
async function preparePeer(stack: Stack, job: JobContext): Promise<NodeJS.ProcessEnv | undefined> {
  if (missingTools([PEER]).length > 0) return undefined;
  stack.cert = await issueHostCertificate([ECR_API]);
  stack.proxy = await startConnectProxy({ certPem: stack.cert.certPem, keyPem: stack.cert.keyPem, backendCaPem: stack.cert.caPem });
  stack.proxy.setRoute(ECR_API, { port: Number(new URL(stack.aws.urls.ecr).port), tls: false });
  const bundle = writeCaBundle(join(job.cwd, 'peer-ca.pem'), stack.cert.caPem);
  stack.aws.addStaticKey({ accessKeyId: 'AKIAREFRESHBENCH0001', secretAccessKey: 'refresh-bench-secret-key-0001', account: PEER_ACCOUNT });
  const env = { HOME: join(job.cwd, 'peer-home'), PATH: process.env.PATH, AWS_ACCESS_KEY_ID: 'AKIAREFRESHBENCH0001', AWS_SECRET_ACCESS_KEY: 'refresh-bench-secret-key-0001', AWS_REGION: 'us-east-1', HTTPS_PROXY: stack.proxy.url, SSL_CERT_FILE: bundle };
  // The first get fills its cache (one ECR call); later ones answer from the cache.
  const before = stack.aws.count('ecr', 'GetAuthorizationToken');
  await timed(PEER, ['get'], ECR_HOST, env).catch((error: unknown) => {
    const log = readFileSync(join(env.HOME, '.ecr', 'log', 'ecr-login.log'), 'utf8').trim().split('\n').pop() ?? '';
    throw new Error(`${error instanceof Error ? error.message : String(error)}; its log: ${log.slice(0, 400)}`);
  });
  await timed(PEER, ['get'], ECR_HOST, env);
  const calls = stack.aws.count('ecr', 'GetAuthorizationToken') - before;
  if (calls !== 1) throw new Error(`${PEER} made ${calls} ECR calls for two gets; its cache is not in use`);
  return env;
}

export async function refreshBench(overrides: Partial<RefreshBenchOptions> = {}): Promise<BenchResult> {
  const options = { ...REFRESH_BENCH_DEFAULTS, ...overrides };
  const missing = missingTools(['dockerd', 'docker', 'docker-registry', 'htpasswd', 'openssl']);
  if (missing.length > 0) throw new Error(`the refresh bench needs ${missing.join(', ')} (bash scripts/install-system-packages.sh installs them)`);
  const stack: Partial<Stack> = {};
  try {
    const orb = loadOrb();
    [stack.registry, stack.engine] = await Promise.all([startRegistry({ auth: 'htpasswd', users: { AWS: PASSWORD } }), startEngine()]);
    stack.aws = await startLocalAws({ roles: { [ROLE]: { subPattern: 'org/*' } }, ecrPassword: PASSWORD, proxyEndpoints: { [ACCOUNT]: stack.registry.url } });
    const { aws, registry } = stack as Stack;
    const cli = fakeCircleci(aws.mintUrl);
    const newBenchJob = async (): Promise<JobContext> => {
      const job = newJob({ ...aws.endpointEnv(), CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(), AWS_DEFAULT_REGION: 'us-east-1', DOCKER_HOST: (stack as Stack).engine.dockerHost });
      job.env.PATH = `${cli.dir}:${job.env.PATH ?? ''}`;
      job.env.DOCKER_CONFIG = join(job.cwd, 'docker-config');
      return job;
    };
    const login = async (job: JobContext): Promise<number> => {
      const started = performance.now();
      const result = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, audience: aws.orgId }, job);
      if (result.exitCode !== 0) throw new Error(`ecr-oidc-login failed: ${result.stderr.trim()}`);
      return (performance.now() - started) / 1000;
    };

    const job = await newBenchJob();
    await login(job);
    const helper = join(job.cwd, 'bin', 'docker-credential-regauth');
    const env = { ...job.env };
    const peerEnv = await preparePeer(stack as Stack, job).catch((error: unknown) => {
      console.log(`  ${PEER}: left out (${error instanceof Error ? error.message : String(error)})`);
      return undefined;
    });
    console.log(`refresh bench: ${process.version}; peer ${peerEnv ? `${PEER} (Debian)` : 'not installed'}`);

    const times = { regauth: [] as number[], node: [] as number[], peer: [] as number[] };
    await timed(helper, ['get'], registry.host, env);
    await timed(process.execPath, ['-e', '0'], '', env);
    aws.resetCounters();
    for (let round = 0; round < options.cachedRounds; round++) {
      const order = round % 2 === 0 ? (['regauth', 'node', 'peer'] as const) : (['peer', 'node', 'regauth'] as const);
      for (const who of order) {
        if (who === 'regauth') times.regauth.push(await timed(helper, ['get'], registry.host, env));
        else if (who === 'node') times.node.push(await timed(process.execPath, ['-e', '0'], '', env));
        else if (peerEnv) times.peer.push(await timed(PEER, ['get'], ECR_HOST, peerEnv));
      }
    }
    const requests = aws.log.filter((entry) => entry.service !== 'issuer').length;
    if (requests !== 0) throw new Error(`cached gets made ${requests} AWS requests`);
    const cached = { regauth: median(times.regauth), node: median(times.node), peer: times.peer.length > 0 ? median(times.peer) : undefined };
    const cachedRatio = cached.regauth / cached.node;

    // Refresh path: the entry made stale by hand (its first line is the refresh-at second).
    const cacheFile = join(job.cwd, '.regauth', 'helper', 'cache', registry.host);
    const refreshTimes: number[] = [];
    const loginTimes: number[] = [];
    for (let round = 0; round < options.refreshRounds; round++) {
      const text = readFileSync(cacheFile, 'utf8');
      writeFileSync(cacheFile, text.replace(/^\d+\n/, '0\n'), { mode: 0o600 });
      const stsBefore = aws.count('sts', 'AssumeRoleWithWebIdentity');
      refreshTimes.push(await timed(helper, ['get'], registry.host, env));
      if (aws.count('sts', 'AssumeRoleWithWebIdentity') !== stsBefore + 1) throw new Error('a stale get did not refresh exactly once');
      loginTimes.push(await login(await newBenchJob()));
    }
    const refresh = median(refreshTimes);
    const ownLogin = median(loginTimes);
    const delta = refresh - ownLogin;

    const rows: string[][] = [
      ['docker-credential-regauth get (cached)', ms(cached.regauth), formatRatio(cachedRatio)],
      ['node -e 0', ms(cached.node), formatRatio(1)],
    ];
    if (cached.peer !== undefined) rows.push([`${PEER} get (cached)`, ms(cached.peer), formatRatio(cached.peer / cached.node)]);
    rows.push(['docker-credential-regauth get (refresh)', ms(refresh), formatRatio(refresh / cached.node)]);
    rows.push(['ecr-oidc-login step (same minting)', ms(ownLogin), formatRatio(ownLogin / cached.node)]);
    console.log('');
    for (const line of formatTable(['what', 'median', 'vs node -e 0'], rows, new Set([1, 2]))) console.log(line);
    const metCached = cachedRatio <= options.goalCachedRatio;
    const metRefresh = delta <= options.goalRefreshDeltaSeconds;
    const peerText = cached.peer !== undefined ? `, ${PEER} ${ms(cached.peer)}` : '';
    const verdict =
      `refresh: cached get ${ms(cached.regauth)} = ${formatRatio(cachedRatio)} node -e 0 (${ms(cached.node)}${peerText}), goal ≤ ${formatRatio(options.goalCachedRatio)}: ${metCached ? 'met' : 'MISSED'}; ` +
      `refresh path ${ms(refresh)} vs login ${ms(ownLogin)} (${delta >= 0 ? '+' : ''}${ms(delta)}), goal ≤ +${options.goalRefreshDeltaSeconds} s: ${metRefresh ? 'met' : 'MISSED'}`;
    console.log(verdict);
    return { name: 'refresh', verdict, met: metCached && metRefresh };
  } finally {
    await Promise.allSettled([stack.aws?.stop(), stack.registry?.stop(), stack.engine?.stop(), stack.proxy?.stop(), stack.cert?.remove()]);
  }
}
