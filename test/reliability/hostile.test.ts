/**
 * Hostile input through the packed orb: every parameter of every command gets shell
 * metacharacters, command substitution, newlines, quotes, look-alikes, huge and empty values
 * (fast-check, fixed seeds). Nothing may ever execute (the canary file never appears); a value
 * no parser may accept fails the step with one line naming the parameter, before docker runs
 * and before anything is written.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { createArgvShims, type ArgvShims } from '../support/canary.ts';
import { SuiteRecorder } from '../support/reliability-report.ts';
import { CompileError, loadOrb, runOrbCommand, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';
import { scratchRoot } from '../../testbed/tempdir.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { canaryValue } from '../support/canary.ts';
import { entriesLost, FOREIGN_CONFIG, labJob, observe, stderrLines, type LabJob } from './harness.ts';
import { hostileScalars, hostileValues, injectionPayloads, lookalikes, type HostileValue } from './hostile-values.ts';

const enabled = requireTools(['docker']);
const orb = loadOrb();
const rec = new SuiteRecorder('hostile', 'Hostile input: every parameter of every command', 2);
const NO_DAEMON = 'unix:///tmp/regauth-reliability-no-daemon.sock';
/** Runs per string parameter (each is one packed-orb step, ~0.15 s) and per typed parameter (compile only). */
const STRING_RUNS = 40;
const SCALAR_RUNS = 60;

interface CommandPlan {
  /** A valid value for each string parameter: hostile values are built around it. */
  valid: Record<string, string>;
  /** The other parameters of a run, all valid. */
  base: Record<string, ParameterValue>;
  /** Job environment: chosen so a run whose parameters all pass stops fast and harmlessly. */
  env: Record<string, string>;
  /** Parameters whose empty value is legitimate. */
  optional: string[];
  /** Parameters that take free text or are sanitised (a look-alike, option-like or `${VAR}` value may pass). */
  lenient: string[];
  /** List parameters (a Unicode space may separate items). */
  lists: string[];
}

const PLANS: Record<string, CommandPlan> = {
  login: {
    valid: { registry: '127.0.0.1:5999' },
    // The password variable is unset: a run whose registry passes stops at `password`.
    base: { registry: '127.0.0.1:5999', username: 'REG_USER', password: 'REGAUTH_HOSTILE_UNSET' },
    env: { REG_USER: 'ci', DOCKER_HOST: NO_DAEMON },
    optional: ['registry'],
    lenient: [],
    lists: [],
  },
  logout: {
    valid: { registries: '127.0.0.1:5999' },
    base: {},
    env: { DOCKER_HOST: NO_DAEMON },
    optional: ['registries'],
    lenient: [],
    lists: ['registries'],
  },
  pull: {
    valid: { images: '127.0.0.1:1/app/api:1.4.2', platform: 'linux/amd64', mirror: '127.0.0.1:1/docker-hub', compose_files: 'compose.yml', no_output_timeout: '10m' },
    base: { images: '127.0.0.1:1/app/api:1.4.2', max_attempts: 1 },
    env: { DOCKER_HOST: NO_DAEMON },
    optional: ['platform', 'mirror', 'compose_files', 'no_output_timeout'],
    lenient: [],
    lists: ['images'],
  },
  'ecr-oidc-login': {
    valid: {
      role_arn: 'arn:aws:iam::123456789012:role/ci-pull',
      region: 'us-east-1',
      account_ids: '123456789012',
      role_session_name: 'ci-session',
      audience: 'sts.amazonaws.com',
    },
    base: { role_arn: 'arn:aws:iam::123456789012:role/ci-pull', region: 'us-east-1' },
    // No OIDC token in the job, and STS is the local one: a run whose parameters pass fails at the token.
    env: { DOCKER_HOST: NO_DAEMON },
    optional: ['account_ids', 'role_session_name', 'audience'],
    lenient: ['audience', 'role_session_name'],
    lists: ['account_ids'],
  },
  'gcp-oidc-login': {
    valid: {
      workload_identity_provider: 'projects/123456789/locations/global/workloadIdentityPools/circleci/providers/acme-org',
      service_account: 'ci-pull@acme-project.iam.gserviceaccount.com',
      registries: 'us-docker.pkg.dev',
      audience: 'hostile-suite-audience',
    },
    base: { workload_identity_provider: 'projects/123456789/locations/global/workloadIdentityPools/circleci/providers/acme-org', registries: 'us-docker.pkg.dev' },
    // No OIDC token in the job, and Google's endpoints a closed loopback port: a run whose
    // parameters pass fails at the token (or, with audience, at the refused connection).
    env: { DOCKER_HOST: NO_DAEMON, CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'http://127.0.0.1:9/', CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: 'http://127.0.0.1:9/' },
    optional: ['service_account', 'audience'],
    lenient: ['audience'],
    lists: ['registries'],
  },
  'ecr-login': {
    valid: { region: 'us-east-1', account_ids: '123456789012' },
    // Keys the local ECR does not know: a run whose parameters pass is refused there at once.
    base: { region: 'us-east-1', access_key_id: 'KEY_ID', secret_access_key: 'KEY_SECRET' },
    env: { KEY_ID: 'AKIAHOSTILEEXAMPLE12', KEY_SECRET: 'hostile-suite-unknown-secret-key', DOCKER_HOST: NO_DAEMON },
    optional: ['account_ids'],
    lenient: [],
    lists: ['account_ids'],
  },
};

/** Whether every correct parser must refuse this value for this parameter. */
function mustReject(plan: CommandPlan, parameter: string, hostile: HostileValue): boolean {
  switch (hostile.kind) {
    case 'empty':
      return !plan.optional.includes(parameter);
    case 'expansion':
      // `${VAR}` is expanded by regauth, not a shell: what is left may well be valid.
      return false;
    case 'lookalike':
    case 'option':
      return !plan.lenient.includes(parameter);
    case 'whitespace':
      return !plan.lists.includes(parameter) && !plan.lenient.includes(parameter);
    case 'huge':
      // A list of the same valid item, deduplicated, may be fine while it fits the limit.
      return !(hostile.value.length <= 65_536 && /^([^,]+,)+$/.test(hostile.value));
    default:
      return true;
  }
}

/** name → sha256 of every file under dir (symlinks by target), to prove nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      const stat = lstatSync(full);
      if (stat.isDirectory()) walk(full);
      else out[full] = stat.isFile() ? createHash('sha256').update(readFileSync(full)).digest('hex') : `${stat.mode}`;
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

describe.runIf(enabled)('hostile parameter values never execute and are refused by name', () => {
  let shims: ArgvShims;
  let aws: LocalAws | undefined;
  let canaryDir: string;
  let target: string;

  beforeAll(async () => {
    aws = await startLocalAws();
    const ecrLogin = PLANS['ecr-login'];
    if (ecrLogin) Object.assign(ecrLogin.env, aws.endpointEnv());
    const ecrOidc = PLANS['ecr-oidc-login'];
    if (ecrOidc) Object.assign(ecrOidc.env, aws.endpointEnv());
    shims = createArgvShims();
    // A minted token STS will refuse at once (InvalidIdentityToken), for runs that set audience.
    shims.setOidcToken('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJob3N0aWxlIn0.c2lnbmF0dXJl');
    canaryDir = mkdtempSync(join(scratchRoot(), 'regauth-hostile-'));
    target = join(canaryDir, 'pwned');
  });

  afterAll(async () => {
    rec.flush();
    await aws?.stop();
    shims?.remove();
    if (canaryDir) rmSync(canaryDir, { recursive: true, force: true });
  });

  for (const [command, plan] of Object.entries(PLANS)) {
    const definition = orb.commands[command];
    const parameters = Object.entries(definition?.parameters ?? (Object.fromEntries(Object.keys(plan.valid).map((name) => [name, { type: 'string' }])) as Record<string, { type: string }>));
    for (const [parameter, { type }] of parameters) {
      const name = `${command}: ${parameter} (${type})`;
      if (!definition) {
        rec.skip(name, `regauth/${command} is not in dist/orb.yml yet`);
        it.skip(`${name} (regauth/${command} not built)`, () => undefined);
        continue;
      }
      rec.reserve(name);
      if (type !== 'string') {
        it(`${name}: hostile text is refused by CircleCI's parameter types before anything runs`, async () => {
          await rec.scenario(name, async (scenario) => {
            let tried = 0;
            let compiled = 0;
            await fc.assert(
              fc.asyncProperty(hostileScalars('/tmp/regauth-hostile-never'), async (value) => {
                tried += 1;
                const job = labJob(plan.env);
                shims.clear();
                let threw: unknown;
                try {
                  await runOrbCommand(orb, command, { ...plan.base, [parameter]: value }, job, { extraEnv: { PATH: shims.pathWith(job.env.PATH ?? '') } });
                  compiled += 1;
                } catch (error) {
                  threw = error;
                }
                expect(threw, `value ${JSON.stringify(value)} was accepted`).toBeInstanceOf(CompileError);
                expect(shims.invocations()).toEqual([]);
              }),
              { seed: 5150 + parameter.length, numRuns: SCALAR_RUNS, endOnFailure: true },
            );
            scenario.tally({ hostileInputs: tried });
            scenario.note(`${tried} values; all refused at compile time (${compiled} reached a step)`);
          });
        });
        continue;
      }
      it(`${name}: hostile values never execute; refused values name the parameter`, async () => {
        await rec.scenario(name, async (scenario) => {
          let tried = 0;
          let executions = 0;
          let refused = 0;
          let lost = 0;
          const valid = plan.valid[parameter] ?? 'value';
          await fc.assert(
            fc.asyncProperty(hostileValues(valid, target), async (hostile) => {
              tried += 1;
              const job: LabJob = labJob({ ...plan.env, ...hostile.env });
              mkdirSync(job.dockerConfig, { recursive: true });
              const before = snapshot(job.dockerConfig);
              shims.clear();
              const result = await runOrbCommand(orb, command, { ...plan.base, [parameter]: hostile.value }, job, {
                extraEnv: { PATH: shims.pathWith(job.env.PATH ?? '') },
              });
              const executed = existsSync(target);
              if (executed) {
                executions += 1;
                rmSync(target, { force: true });
              }
              const label = `${hostile.kind} ${JSON.stringify(hostile.value.slice(0, 120))}`;
              expect(executed, `executed: ${label}`).toBe(false);
              const lines = stderrLines(result);
              const namesIt = result.exitCode !== 0 && lines.length === 1 && (lines[0] ?? '').includes(`parameter ${parameter}`);
              lost += entriesLost(job).length;
              if (namesIt) refused += 1;
              if (mustReject(plan, parameter, hostile)) {
                expect(namesIt, `not refused by name: ${label} → exit ${result.exitCode}: ${result.stderr.slice(0, 300)}`).toBe(true);
              }
              if (namesIt) {
                expect(shims.invocations(), `docker/circleci ran for a refused value: ${label}`).toEqual([]);
                expect(snapshot(job.dockerConfig), `DOCKER_CONFIG changed for a refused value: ${label}`).toEqual(before);
                expect(readFileSync(job.bashEnvFile, 'utf8')).toBe('');
              } else if (result.exitCode !== 0) {
                expect(lines, `a failure is one line: ${label}`).toHaveLength(1);
              }
              expect(entriesLost(job)).toEqual([]);
              rmSync(job.cwd, { recursive: true, force: true });
            }),
            { seed: 4242 + parameter.length * 7 + command.length, numRuns: STRING_RUNS, endOnFailure: true },
          );
          scenario.tally({ hostileInputs: tried, executionsObserved: executions, entriesLost: lost });
          scenario.note(`${tried} values, ${refused} refused naming the parameter`);
        });
      });
    }
  }
});

/**
 * Docker configs users really have. What regauth does, deliberately:
 * - config.json a symbolic link, not JSON, or unreadable: refuses with one line and writes nothing;
 * - a credsStore / credHelpers entry for the host whose helper is not installed: sets
 *   credHelpers[host] = "" so docker keeps this host's credentials in config.json (0600), says so,
 *   and logout removes exactly that entry again;
 * - a helper that is installed: used, as docker would (the secret goes to the helper on stdin).
 */
interface ConfigRow {
  name: string;
  /** What config.json is before the step (written by the row). */
  setup: (job: LabJob, helperDir: string) => void;
  expect: 'ok' | RegExp;
  /** The config the job must end with (after login then logout), or 'unchanged'. */
  after: 'unchanged' | ((job: LabJob, helperDir: string) => void);
  /** Logs out after a successful login (the round trip must restore the config). */
  logout?: boolean;
  /** Top-level config settings that must be as they were after the round trip (besides the foreign ones). */
  keeps?: Record<string, unknown>;
  knownIssue?: string;
  /** For a config that can make a read block: unblock after this many seconds (a safety net). */
  watchdogSeconds?: number;
}

const HELPER = `#!/bin/bash
# A credential helper for the suite: keeps each server's JSON in a 0600 file of a 0700 directory.
umask 077
dir="$REGAUTH_TEST_HELPER_DIR"
case "$1" in
  store) input=$(cat); server=$(printf '%s' "$input" | sed -E 's/.*"ServerURL":"([^"]*)".*/\\1/'); printf '%s' "$input" > "$dir/$(printf '%s' "$server" | sha256sum | cut -c1-16)";;
  get) server=$(cat); f="$dir/$(printf '%s' "$server" | sha256sum | cut -c1-16)"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi;;
  erase) server=$(cat); rm -f "$dir/$(printf '%s' "$server" | sha256sum | cut -c1-16)";;
  list) echo '{}';;
esac
`;

const configRows = (host: () => string): ConfigRow[] => [
  {
    name: 'config.json is a symbolic link',
    setup: (job) => {
      writeFileSync(join(job.dockerConfig, 'elsewhere.json'), JSON.stringify(FOREIGN_CONFIG), { mode: 0o600 });
      rmSync(join(job.dockerConfig, 'config.json'));
      symlinkSync('elsewhere.json', join(job.dockerConfig, 'config.json'));
    },
    expect: /^regauth: login: .*config\.json is a symbolic link/,
    after: 'unchanged',
  },
  {
    name: 'config.json is not JSON',
    setup: (job) => writeFileSync(join(job.dockerConfig, 'config.json'), '{"auths": {', { mode: 0o600 }),
    expect: /^regauth: login: .*config\.json is not valid JSON/,
    after: 'unchanged',
  },
  {
    name: 'config.json cannot be read (a directory)',
    setup: (job) => {
      rmSync(join(job.dockerConfig, 'config.json'));
      mkdirSync(join(job.dockerConfig, 'config.json'));
    },
    expect: /^regauth: login: .*config\.json is not a regular file/,
    after: 'unchanged',
  },
  ...(process.getuid?.() === 0
    ? []
    : [
        {
          name: 'config.json cannot be read (mode 000)',
          setup: (job: LabJob) => chmodSync(join(job.dockerConfig, 'config.json'), 0),
          expect: /^regauth: login: .*config\.json is not a regular file/,
          after: 'unchanged' as const,
        },
      ]),
  {
    name: 'config.json is a named pipe',
    setup: (job) => {
      rmSync(join(job.dockerConfig, 'config.json'));
      execFileSync('mkfifo', [join(job.dockerConfig, 'config.json')]);
    },
    expect: /^regauth: login: .*config\.json is not a regular file/,
    after: 'unchanged',
    watchdogSeconds: 10,
  },
  {
    name: 'credsStore names a helper that is not installed',
    setup: (job) => writeFileSync(join(job.dockerConfig, 'config.json'), JSON.stringify({ ...FOREIGN_CONFIG, credsStore: 'regauth-absent' }), { mode: 0o600 }),
    expect: 'ok',
    logout: true,
    after: (job) => {
      const config = JSON.parse(readFileSync(join(job.dockerConfig, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(config.credsStore).toBe('regauth-absent');
      expect(config.credHelpers).toBeUndefined();
    },
  },
  {
    name: 'credHelpers names a helper for this host that is not installed',
    setup: (job) =>
      writeFileSync(join(job.dockerConfig, 'config.json'), JSON.stringify({ ...FOREIGN_CONFIG, credHelpers: { [host()]: 'regauth-absent', 'gcr.io': 'gcloud' } }), { mode: 0o600 }),
    expect: 'ok',
    logout: true,
    get keeps() {
      return { credHelpers: { [host()]: 'regauth-absent', 'gcr.io': 'gcloud' } };
    },
    after: () => undefined,
  },
  {
    name: 'credsStore names a helper that is installed: docker uses it',
    setup: (job) => writeFileSync(join(job.dockerConfig, 'config.json'), JSON.stringify({ ...FOREIGN_CONFIG, credsStore: 'regauthtest' }), { mode: 0o600 }),
    expect: 'ok',
    logout: true,
    after: (job, helperDir) => {
      const config = JSON.parse(readFileSync(join(job.dockerConfig, 'config.json'), 'utf8')) as { credsStore?: string; credHelpers?: unknown };
      expect(config.credsStore).toBe('regauthtest');
      expect(config.credHelpers).toBeUndefined();
      // logout erased the helper's copy
      expect(readdirSync(helperDir)).toEqual([]);
    },
  },
];

describe.runIf(requireTools(['docker', 'docker-registry', 'htpasswd', 'openssl']))('docker configs as users have them', () => {
  const password = canaryValue('config-registry-password');
  let registry: Registry;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd', users: { ci: password } });
  });

  afterAll(async () => {
    rec.flush();
    await registry?.stop();
  });

  const SECRET_VALUES = 'login: hostile user name and password values (the variables the parameters name)';
  rec.reserve(SECRET_VALUES);
  it(`${SECRET_VALUES} are passed to docker as data, never run`, async () => {
    await rec.scenario(SECRET_VALUES, async (scenario) => {
      const dir = mkdtempSync(join(scratchRoot(), 'regauth-hostile-secret-'));
      const pwned = join(dir, 'pwned');
      let tried = 0;
      let executions = 0;
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('REG_USER', 'REG_PASS'), fc.constantFrom(...injectionPayloads(pwned), ...lookalikes('ci', pwned)), async (variable, value) => {
          tried += 1;
          const job = labJob({ DOCKER_HOST: NO_DAEMON, REG_USER: 'ci', REG_PASS: password, [variable]: value });
          const result = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, job);
          if (existsSync(pwned)) {
            executions += 1;
            rmSync(pwned);
          }
          expect(existsSync(pwned)).toBe(false);
          // A hostile password is simply wrong; a hostile user name is refused or wrong: one line either way.
          expect(result.exitCode).not.toBe(0);
          expect(stderrLines(result), result.stderr).toHaveLength(1);
          expect(`${result.stdout}${result.stderr}`).not.toContain(password);
          expect(entriesLost(job)).toEqual([]);
          rmSync(job.cwd, { recursive: true, force: true });
        }),
        { seed: 777, numRuns: 30, endOnFailure: true },
      );
      rmSync(dir, { recursive: true, force: true });
      scenario.tally({ hostileInputs: tried, executionsObserved: executions });
      scenario.note(`${tried} values, none executed`);
    });
  });

  for (const row of configRows(() => registry.host)) {
    const name = `docker config: ${row.name}`;
    rec.reserve(name);
    (row.knownIssue ? it.fails : it)(row.knownIssue ? `${name} (known issue)` : name, async () => {
      await rec.scenario(name, async (scenario) => {
        if (row.knownIssue) scenario.note(`known issue: ${row.knownIssue}`);
        const helperRoot = mkdtempSync(join(scratchRoot(), 'regauth-helper-'));
        const helperDir = join(helperRoot, 'store');
        const helperBin = join(helperRoot, 'bin');
        mkdirSync(helperDir, { mode: 0o700 });
        mkdirSync(helperBin, { mode: 0o700 });
        writeFileSync(join(helperBin, 'docker-credential-regauthtest'), HELPER, { mode: 0o755 });
        const job = labJob({ DOCKER_HOST: NO_DAEMON, REG_USER: 'ci', REG_PASS: password, REGAUTH_TEST_HELPER_DIR: helperDir });
        job.env.PATH = `${helperBin}:${job.env.PATH ?? ''}`;
        row.setup(job, helperDir);
        const before = snapshot(job.dockerConfig);
        let watchdogFired = false;
        let watchdog: NodeJS.Timeout | undefined;
        if (row.watchdogSeconds) {
          const started = Date.now();
          watchdog = setInterval(() => {
            if (Date.now() - started < (row.watchdogSeconds ?? 0) * 1000) return;
            // Unblock any reader stuck on a FIFO (regauth, then docker) so the suite itself cannot hang.
            watchdogFired = true;
            try {
              closeSync(openSync(join(job.dockerConfig, 'config.json'), constants.O_WRONLY | constants.O_NONBLOCK));
            } catch {
              // nobody was reading, or it is no longer a FIFO
            }
          }, 200);
        }
        const canaries = [{ label: 'registry password', value: password }];
        const helperFiles = (): string[] => readdirSync(helperDir).map((file) => join(helperDir, file));
        const login = await observe(orb, [{ job, command: 'login', params: { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' } }], { canaries });
        clearInterval(watchdog);
        // The helper's own store may hold the secret (that is what a helper is for): check its modes.
        for (const file of helperFiles()) {
          expect(statSync(file).mode & 0o777).toBe(0o600);
        }
        const leaks = login.leaks.filter((leak) => !leak.where.startsWith(helperDir));
        const result = login.results[0];
        if (!result) throw new Error('no result');
        let logoutLeaks = 0;
        if (row.logout && result.exitCode === 0) {
          const out = await observe(orb, [{ job, command: 'logout', params: {} }], { canaries });
          expect(out.results[0]?.exitCode, out.results[0]?.stderr).toBe(0);
          logoutLeaks = out.leaks.length;
        }
        const keeps = { auths: FOREIGN_CONFIG.auths, psFormat: FOREIGN_CONFIG.psFormat, ...row.keeps };
        const lost = row.expect === 'ok' ? entriesLost(job, keeps) : [];
        scenario.tally({ secretsPlanted: 1, leaksFound: leaks.length + logoutLeaks, hostileInputs: 1, invocationsRecorded: login.invocations.length, entriesLost: lost.length });
        onTestFinished(() => rmSync(helperRoot, { recursive: true, force: true }));
        expect(watchdogFired, 'the step blocked until the watchdog unblocked it').toBe(false);
        expect(leaks).toEqual([]);
        if (row.expect === 'ok') {
          expect(result.exitCode, result.stderr).toBe(0);
          if (!row.knownIssue) scenario.note(row.name.includes('not installed') ? 'credentials kept in config.json for this host; logout restores the helper setting' : 'the installed helper stores the credentials; logout erases them');
          expect(lost).toEqual([]);
          if (typeof row.after === 'function') row.after(job, helperDir);
        } else {
          expect(result.exitCode).not.toBe(0);
          expect(stderrLines(result)).toHaveLength(1);
          expect(stderrLines(result)[0]).toMatch(row.expect);
          expect(login.invocations, 'docker ran although the config was refused').toEqual([]);
          const after = snapshot(job.dockerConfig);
          // regauth may leave nothing behind but its lock file, which it removes.
          expect(after).toEqual(before);
        }
      });
    });
  }
});
