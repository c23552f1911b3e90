/**
 * Faults: throttling, 5xx and cut connections at STS, ECR and the registry; the engine stopped
 * mid-pull; docker or node missing or too old; an expired token; a clock ten minutes off; eight
 * logins into one config at once. Each either succeeds within its budget or fails with one
 * clear line, and nothing already in the docker config is lost.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { canaryValue, type Canary } from '../support/canary.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { oldNodeScript } from '../support/fake-node.ts';
import { startFaultProxy, type FaultProxy } from '../../testbed/fault-proxy.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { SuiteRecorder } from '../support/reliability-report.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, runOrbCommand, type CommandResult, type ParameterValue } from '../../testbed/step-runner.ts';
import { makeTempDir } from '../../testbed/tempdir.ts';
import { requireTools } from '../../testbed/tools.ts';
import { startFlakyFront, type FlakyFront } from './flaky-front.ts';
import { entriesLost, labJob, observe, stderrLines, type LabJob, type Observation } from './harness.ts';

const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);
const orb = loadOrb();
const rec = new SuiteRecorder('faults', 'Faults: each succeeds within its budget or fails with one clear line', 3);
const NO_DAEMON = 'unix:///tmp/regauth-reliability-no-daemon.sock';
const PASSWORD = canaryValue('fault-registry-password');
const ECR_PASSWORD = canaryValue('fault-ecr-password');
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;

interface Lab {
  engine: Engine;
  registry: Registry;
  front: FlakyFront;
  fronts: FlakyFront[];
  openRegistry: Registry;
  proxy: FaultProxy;
  images: Record<string, SeededImage>;
  aws: LocalAws;
}

interface Outcome {
  observation?: Observation;
  result: CommandResult;
  attempts?: number | undefined;
  /** Faults actually injected, when the row counts them (overrides the row's figure). */
  injected?: number;
  /** All results when several steps ran at once. */
  all?: CommandResult[];
  job: LabJob;
}

interface FaultRow {
  name: string;
  needs: string;
  /** Faults this row injects (counted in the totals). */
  faults: number;
  budgetSeconds: number;
  expect: 'ok' | RegExp;
  run: (lab: Lab) => Promise<Outcome>;
  /** Extra checks once the row ran. */
  then?: (outcome: Outcome, lab: Lab) => void;
  /** A known regauth/docker problem: the row is expected to fail until it is fixed (it.fails). */
  knownIssue?: string;
}

const loginAttempts = (observation: Observation): number => observation.invocations.filter((i) => i.tool === 'docker' && i.argv[0] === 'login').length;

/** Attempts from regauth/pull's summary table for `ref`. */
function pullAttempts(stdout: string, ref: string): number | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${ref} `) && /\s\d+$/.test(l));
  const value = line ? Number(/(\d+)$/.exec(line)?.[1]) : NaN;
  return Number.isNaN(value) ? undefined : value;
}

const canaries = (): Canary[] => [
  { label: 'registry password', value: PASSWORD },
  { label: 'ECR password', value: ECR_PASSWORD },
];

async function step(_lab: Lab, command: string, params: Record<string, ParameterValue>, env: Record<string, string> = {}, oidcToken?: string): Promise<Outcome> {
  const job = labJob({ DOCKER_HOST: NO_DAEMON, REG_USER: 'ci', REG_PASS: PASSWORD, ...env });
  const observation = await observe(orb, [{ job, command, params }], { canaries: canaries(), ...(oidcToken ? { oidcToken } : {}) });
  const result = observation.results[0];
  if (!result) throw new Error('no result');
  return { observation, result, job };
}

/** A PATH of the job's own holding only the named tools (a machine that lacks the others). */
function pathWith(tools: Record<string, string>): string {
  // Removed when the test process exits.
  const dir = makeTempDir('regauth-fault-path-').path;
  for (const [name, target] of Object.entries(tools)) {
    if (target.startsWith('#!')) {
      writeFileSync(join(dir, name), target);
      chmodSync(join(dir, name), 0o755);
    } else symlinkSync(target, join(dir, name));
  }
  return dir;
}

/** Runs a step on a PATH without the argv shims (they would provide a docker of their own). */
async function bare(command: string, params: Record<string, ParameterValue>, path: string): Promise<Outcome> {
  const job = labJob({ DOCKER_HOST: NO_DAEMON, REG_USER: 'ci', REG_PASS: PASSWORD, PATH: path });
  const result = await runOrbCommand(orb, command, params, job);
  return { result, job };
}

async function awsEnv(lab: Lab, mint: Parameters<LocalAws['mintToken']>[0] = {}): Promise<Record<string, string>> {
  return { ...lab.aws.endpointEnv(), AWS_DEFAULT_REGION: 'us-east-1', CIRCLE_OIDC_TOKEN_V2: await lab.aws.mintToken(mint) };
}

const node = process.execPath;
const docker = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();

function rows(): FaultRow[] {
  const login = (lab: Lab): Promise<Outcome> => step(lab, 'login', { registry: lab.front.host, username: 'REG_USER', password: 'REG_PASS' });
  const loginRow = (name: string, expectation: 'ok' | RegExp, fault: '429' | '503' | 'reset', times: number, budgetSeconds: number, retryAfter?: number): FaultRow => ({
    name,
    needs: 'login',
    faults: times,
    budgetSeconds,
    expect: expectation,
    run: async (lab) => {
      const before = lab.front.faulted();
      lab.front.failNext(fault, times, retryAfter);
      const outcome = await login(lab);
      lab.front.failNext(fault, 0);
      return { ...outcome, attempts: outcome.observation ? loginAttempts(outcome.observation) : undefined, injected: lab.front.faulted() - before };
    },
  });
  const pull = (
    name: string,
    image: string,
    rule: Parameters<FaultProxy['addRule']>[0] | undefined,
    faults: number,
    expectation: 'ok' | RegExp,
    budgetSeconds: number,
    params: Record<string, ParameterValue> = {},
    env: Record<string, string> = {},
  ): FaultRow => ({
    name,
    needs: 'pull',
    faults,
    budgetSeconds,
    expect: expectation,
    run: async (lab) => {
      lab.proxy.clearRules();
      const handle = rule ? lab.proxy.addRule(rule) : undefined;
      const ref = `${lab.proxy.host}/${image}:1`;
      const outcome = await step(lab, 'pull', { images: ref, ...params }, { DOCKER_HOST: lab.engine.dockerHost, ...env });
      lab.proxy.clearRules();
      return { ...outcome, attempts: pullAttempts(outcome.result.stdout, ref), injected: handle?.hits() ?? faults };
    },
  });
  const oidc = (name: string, inject: (aws: LocalAws) => (() => void) | void, faults: number, expectation: 'ok' | RegExp, budgetSeconds: number, service: 'sts' | 'ecr' = 'sts', mint: Parameters<LocalAws['mintToken']>[0] = {}): FaultRow => ({
    name,
    needs: 'ecr-oidc-login',
    faults,
    budgetSeconds,
    expect: expectation,
    run: async (lab) => {
      lab.aws.clearFaults();
      lab.aws.resetCounters();
      // Injected first, so a token is minted on the stack's (possibly moved) clock, as CircleCI's is.
      const undo = inject(lab.aws);
      const env = await awsEnv(lab, mint);
      try {
        const outcome = await step(lab, 'ecr-oidc-login', { role_arn: ROLE }, env);
        return { ...outcome, attempts: lab.aws.count(service) };
      } finally {
        lab.aws.clearFaults();
        undo?.();
      }
    },
  });
  const failLine = (command: string): RegExp => new RegExp(`^regauth: ${command}: `);
  return [
    // docker login makes two requests per attempt (the /v2/ ping, then the one with credentials).
    loginRow('registry answers 429 to one login attempt', 'ok', '429', 2, 15),
    loginRow('registry answers 429 with Retry-After: 2 to one login attempt', 'ok', '429', 2, 15, 2),
    loginRow('registry answers 503 to two login attempts', 'ok', '503', 4, 20),
    loginRow('registry cuts the connection once', 'ok', 'reset', 1, 15),
    loginRow('registry answers 503 every time', /^regauth: login: could not log in to 127\.0\.0\.1:\d+ as ci after 3 attempts: .*503/, '503', 100, 30),
    {
      ...loginRow('registry answers 429 to the /v2/ ping only', 'ok', '429', 1, 15),
      knownIssue:
        'docker CLI 28 then sends no credentials and reports "401 Unauthorized"; regauth says the registry refused the credentials and does not retry',
    },
    pull('pull: registry answers 429 to one attempt', 'app/a', { image: 'app/a', fault: '429', times: 2 }, 2, 'ok', 30),
    pull('pull: registry answers 503 to two attempts', 'app/b', { image: 'app/b', fault: '503', times: 4 }, 4, 'ok', 30),
    pull('pull: registry cuts the connection once', 'app/c', { image: 'app/c', fault: 'reset', times: 1 }, 1, 'ok', 30),
    pull('pull: registry answers 503 every time (max_attempts 3)', 'app/d', { image: 'app/d', fault: '503', times: 100 }, 6, failLine('pull'), 60, { max_attempts: 3 }),
    // A manifest whose headers arrive and whose body never does: each attempt ends at the stall
    // deadline (4 s here, 60 s by default) instead of hanging the step.
    // Images of their own: one the engine holds is only HEADed, and a HEAD has no body to stall.
    pull('pull: manifest body stalls after its headers (max_attempts 1)', 'app/stall-1', { image: 'app/stall-1', fault: 'stall-body', method: 'GET', times: 10 }, 1, failLine('pull'), 30, { max_attempts: 1 }, { REGAUTH_PULL_STALL_SECONDS: '4' }),
    pull('pull: manifest body stalls once, the retry succeeds (max_attempts 2)', 'app/stall-2', { image: 'app/stall-2', fault: 'stall-body', method: 'GET', times: 1 }, 1, 'ok', 30, { max_attempts: 2 }, { REGAUTH_PULL_STALL_SECONDS: '4' }),
    {
      name: 'pull: the engine is stopped mid-pull',
      needs: 'pull',
      faults: 1,
      budgetSeconds: 90,
      expect: failLine('pull'),
      run: async (lab) => {
        const engine = await startEngine();
        lab.proxy.clearRules();
        // Blobs are held back so the pull is under way when the engine goes.
        lab.proxy.addRule({ image: 'app/big', fault: 'delay', on: 'blobs', delayMs: 1500, times: 50 });
        const ref = `${lab.proxy.host}/app/big:1`;
        const seen = lab.proxy.requests.length;
        let stopped = false;
        const watcher = setInterval(() => {
          if (!stopped && lab.proxy.requests.slice(seen).some((r) => r.kind === 'blobs')) {
            stopped = true;
            void engine.stop();
          }
        }, 10);
        try {
          const outcome = await step(lab, 'pull', { images: ref, max_attempts: 3 }, { DOCKER_HOST: engine.dockerHost });
          return { ...outcome, attempts: pullAttempts(outcome.result.stdout, ref) };
        } finally {
          clearInterval(watcher);
          lab.proxy.clearRules();
          await engine.stop();
        }
      },
    },
    {
      name: 'the docker CLI is missing',
      needs: 'login',
      faults: 1,
      budgetSeconds: 5,
      expect: /^regauth: the docker CLI was not found on PATH/,
      run: () => bare('login', { registry: '127.0.0.1:5999', username: 'REG_USER', password: 'REG_PASS' }, pathWith({ node })),
    },
    {
      name: 'the docker CLI is too old (no --password-stdin)',
      needs: 'login',
      faults: 1,
      budgetSeconds: 15,
      // The line should carry docker's reason (the unknown flag), not its usage hint.
      expect: /^regauth: login: .*(password-stdin|too old)/,
      run: () =>
        bare(
          'login',
          { registry: '127.0.0.1:5999', username: 'REG_USER', password: 'REG_PASS' },
          pathWith({ node, docker: '#!/bin/bash\nif [ "$1" = version ]; then echo 17.03.2-ce; exit 0; fi\necho "unknown flag: --password-stdin" >&2\necho "See \'docker login --help\'." >&2\nexit 125\n' }),
        ),
    },
    {
      name: 'node is missing',
      needs: 'login',
      faults: 1,
      budgetSeconds: 5,
      expect: /^regauth: node was not found on PATH/,
      run: () => bare('login', { registry: '127.0.0.1:5999', username: 'REG_USER', password: 'REG_PASS' }, pathWith({ docker })),
    },
    {
      name: 'node is too old',
      needs: 'login',
      faults: 1,
      budgetSeconds: 5,
      expect: /^regauth: node v16\.20\.2 is too old/,
      run: () => bare('login', { registry: '127.0.0.1:5999', username: 'REG_USER', password: 'REG_PASS' }, pathWith({ docker, node: oldNodeScript('16.20.2') })),
    },
    oidc('STS throttles twice', (aws) => aws.failNext('sts', 2, 'Throttling'), 2, 'ok', 20),
    oidc('STS answers 500 twice', (aws) => aws.failNext('sts', 2, '500'), 2, 'ok', 20),
    oidc('STS cuts the connection once', (aws) => aws.failNext('sts', 1, 'reset'), 1, 'ok', 20),
    oidc('STS cannot reach the identity provider once (IDPCommunicationError)', (aws) => aws.failNext('sts', 1, 'IDPCommunicationError'), 1, 'ok', 20),
    oidc('STS throttles every time', (aws) => aws.failNext('sts', 10, 'Throttling'), 10, /^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed after 5 attempts: Throttling/, 60),
    oidc('ECR throttles twice', (aws) => aws.failNext('ecr', 2, 'Throttling'), 2, 'ok', 20, 'ecr'),
    oidc('ECR answers 500, then cuts the connection', (aws) => void (aws.failNext('ecr', 1, '500'), aws.failNext('ecr', 1, 'reset')), 2, 'ok', 20, 'ecr'),
    {
      name: 'the job token expired (issued 2 h ago); the circleci CLI mints a fresh one',
      needs: 'ecr-oidc-login',
      faults: 1,
      budgetSeconds: 20,
      expect: 'ok',
      run: async (lab) => {
        lab.aws.resetCounters();
        const env = await awsEnv(lab, { iat: Math.floor(Date.now() / 1000) - 7200 });
        const outcome = await step(lab, 'ecr-oidc-login', { role_arn: ROLE }, env, await lab.aws.mintToken());
        return { ...outcome, attempts: lab.aws.count('sts') };
      },
      then: (outcome) => expect(outcome.observation?.invocations.filter((i) => i.tool === 'circleci' && i.argv.slice(0, 4).join(' ') === 'run oidc get --claims')).toHaveLength(1),
    },
    {
      name: 'the job token expired and no fresh one can be minted',
      needs: 'ecr-oidc-login',
      faults: 1,
      budgetSeconds: 20,
      // The mint fails; STS then judges the expired job token and the diagnosis is printed.
      expect: /^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: ExpiredTokenException/,
      run: async (lab) => {
        lab.aws.resetCounters();
        const env = await awsEnv(lab, { iat: Math.floor(Date.now() / 1000) - 7200 });
        const outcome = await step(lab, 'ecr-oidc-login', { role_arn: ROLE }, env);
        return { ...outcome, attempts: lab.aws.count('sts') };
      },
      // The log says why a token was being minted at all (the job's token had expired), and that it failed.
      then: (outcome) => expect(outcome.result.stdout).toMatch(/CIRCLE_OIDC_TOKEN_V2 expired or expires within 60 s .*could not mint an OIDC token/),
    },
    oidc('the clock is ten minutes slow (AWS ten minutes ahead)', (aws) => (aws.advance(600), () => aws.advance(-600)), 1, 'ok', 30, 'ecr'),
    oidc('the clock is ten minutes fast (AWS ten minutes behind)', (aws) => (aws.advance(-600), () => aws.advance(600)), 1, 'ok', 30, 'ecr'),
    {
      name: 'eight logins into one docker config at once',
      needs: 'login',
      faults: 1,
      budgetSeconds: 60,
      expect: 'ok',
      run: async (lab) => {
        const job = labJob({ DOCKER_HOST: NO_DAEMON, REG_USER: 'ci', REG_PASS: PASSWORD });
        const observation = await observe(
          orb,
          lab.fronts.map((front) => ({ job, command: 'login', params: { registry: front.host, username: 'REG_USER', password: 'REG_PASS' } })),
          { canaries: canaries() },
        );
        const failed = observation.results.find((r) => r.exitCode !== 0);
        return { observation, result: failed ?? (observation.results[0] as CommandResult), all: observation.results, job, attempts: loginAttempts(observation) };
      },
      then: (outcome, lab) => {
        const config = JSON.parse(execFileSync('cat', [join(outcome.job.dockerConfig, 'config.json')], { encoding: 'utf8' })) as { auths: Record<string, unknown> };
        for (const front of lab.fronts) expect(Object.keys(config.auths)).toContain(front.host);
      },
    },
  ];
}

describe.runIf(enabled)('faults are survived or reported in one line, and nothing is lost', () => {
  let lab: Lab;

  beforeAll(async () => {
    const [engine, registry, openRegistry] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'htpasswd', users: { ci: PASSWORD, AWS: ECR_PASSWORD } }),
      startRegistry({ auth: 'none' }),
    ]);
    const seeded = await Promise.all(
      ['app/a', 'app/b', 'app/c', 'app/d', 'app/stall-1', 'app/stall-2'].map((name) => seedImage(openRegistry, { name, tag: '1' })).concat([seedImage(openRegistry, { name: 'app/big', tag: '1', sizeBytes: 4_000_000 })]),
    );
    const images = Object.fromEntries(seeded.map((image) => [image.name, image]));
    const [front, proxy, ...fronts] = await Promise.all([
      startFlakyFront(registry.url, registry.caFile),
      startFaultProxy({ target: openRegistry.url, caFile: openRegistry.caFile }),
      ...Array.from({ length: 8 }, () => startFlakyFront(registry.url, registry.caFile)),
    ]);
    const aws = await startLocalAws({ roles: { [ROLE]: { subPattern: 'org/*' } }, ecrPassword: ECR_PASSWORD, proxyEndpoints: { [ACCOUNT]: registry.url } });
    lab = { engine, registry, front: front as FlakyFront, proxy: proxy as FaultProxy, fronts: fronts as FlakyFront[], openRegistry, images, aws };
  });

  afterAll(async () => {
    rec.flush();
    await Promise.all([lab?.engine.stop(), lab?.registry.stop(), lab?.openRegistry.stop(), lab?.front.stop(), lab?.proxy.stop(), lab?.aws.stop(), ...(lab?.fronts ?? []).map((f) => f.stop())]);
  });

  for (const row of rows()) {
    if (!(row.needs in orb.commands)) {
      rec.skip(row.name, `regauth/${row.needs} is not in dist/orb.yml yet`);
      it.skip(`${row.name} (regauth/${row.needs} not built)`, () => undefined);
      continue;
    }
    rec.reserve(row.name);
    (row.knownIssue ? it.fails : it)(row.knownIssue ? `${row.name} (known issue)` : row.name, async () => {
      await rec.scenario(row.name, async (scenario) => {
        if (row.knownIssue) scenario.note(`known issue: ${row.knownIssue}`);
        const started = performance.now();
        const outcome = await row.run(lab);
        const seconds = (performance.now() - started) / 1000;
        const lost = entriesLost(outcome.job);
        const leaks = outcome.observation?.leaks ?? [];
        if (outcome.attempts !== undefined) scenario.attempts(outcome.attempts);
        scenario.tally({
          faultsInjected: outcome.injected ?? row.faults,
          faultsSurvived: outcome.injected ?? row.faults,
          entriesLost: lost.length,
          leaksFound: leaks.length,
          secretsPlanted: outcome.observation ? canaries().length : 0,
          invocationsRecorded: outcome.observation?.invocations.length ?? 0,
        });
        const results = outcome.all ?? [outcome.result];
        for (const result of results) {
          if (row.expect === 'ok') expect(result.exitCode, result.stderr).toBe(0);
          else {
            expect(result.exitCode, result.stdout).not.toBe(0);
            const lines = stderrLines(result);
            expect(lines, result.stderr).toHaveLength(1);
            expect(lines[0]).toMatch(row.expect);
          }
        }
        expect(seconds, `took ${seconds.toFixed(1)} s, budget ${row.budgetSeconds} s`).toBeLessThanOrEqual(row.budgetSeconds);
        expect(lost).toEqual([]);
        expect(leaks).toEqual([]);
        row.then?.(outcome, lab);
        if (row.expect !== 'ok' && !row.knownIssue) scenario.note((stderrLines(outcome.result)[0] ?? '').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT').slice(0, 160));
      });
    });
  }
});
