/**
 * Hardening: what an attacker controls besides the parameters — a registry's or endpoint's
 * error text, stale and planted files in the docker config and HOME, a step killed half way —
 * through the packed orb, against registries and endpoints of the test's own on 127.0.0.1.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { canaryValue, type Canary } from '../support/canary.ts';
import { listenOnLoopback, waitFor } from '../../testbed/ports.ts';
import { SuiteRecorder, type ScenarioHandle } from '../support/reliability-report.ts';
import { loadOrb, runOrbCommand, type CommandResult, type ParameterValue } from '../../testbed/step-runner.ts';
import { makeTempDir } from '../../testbed/tempdir.ts';
import { requireTools } from '../../testbed/tools.ts';
import { labJob, observe, stderrLines, type LabJob, type Observation } from './harness.ts';
import { startScriptedRegistry, type ScriptedRegistry } from './scripted-registry.ts';

const enabled = requireTools(['docker']);
const orb = loadOrb();
const rec = new SuiteRecorder('hardening', 'Hardening: hostile remote text, planted files, killed steps', 4);
const NO_DAEMON = 'unix:///tmp/regauth-reliability-no-daemon.sock';
const PASSWORD = canaryValue('hardening-password');
const canaries = (): Canary[] => [{ label: 'registry password', value: PASSWORD }];

interface Lab {
  registries: ScriptedRegistry[];
  aws: LocalAws;
  /** An ECR endpoint of the test's own that refuses every call, quoting the session token it was sent. */
  ecrEcho: { url: string; tokens: string[]; stop: () => Promise<void> };
}

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const ECR_PASSWORD = canaryValue('hardening-ecr-password');

async function startEcrEcho(): Promise<Lab['ecrEcho']> {
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    const token = String(req.headers['x-amz-security-token'] ?? '');
    tokens.push(token);
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': '00000000-0000-0000-0000-000000000000' });
    // A proxy that explains itself at length, then quotes what it was sent.
    res.end(JSON.stringify({ __type: 'InvalidParameterException', message: `${'the request was refused by the endpoint policy; '.repeat(4)}session token ${token} is not allowed here` }));
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function awsEnv(lab: Lab): Promise<Record<string, string>> {
  return { ...lab.aws.endpointEnv(), AWS_DEFAULT_REGION: 'us-east-1', CIRCLE_OIDC_TOKEN_V2: await lab.aws.mintToken() };
}

/** Every 16-character piece of `secret` (a partial leak is a leak). */
function pieces(secret: string, size = 16): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= secret.length; i++) out.push(secret.slice(i, i + size));
  return out;
}

function assertOneLineFailure(result: CommandResult, pattern: RegExp): void {
  expect(result.exitCode).not.toBe(0);
  expect(stderrLines(result)).toEqual([expect.stringMatching(pattern)]);
}

interface Row {
  name: string;
  needs: string;
  run: (lab: Lab, scenario: ScenarioHandle) => Promise<void>;
}

const job = (env: Record<string, string> = {}): LabJob => labJob({ DOCKER_HOST: NO_DAEMON, REG_USER: 'ci', REG_PASS: PASSWORD, ...env });
const loginParams = (registry: ScriptedRegistry): Record<string, ParameterValue> => ({ registry: registry.host, username: 'REG_USER', password: 'REG_PASS' });

async function step(target: LabJob, command: string, params: Record<string, ParameterValue>, extra: Canary[] = []): Promise<{ result: CommandResult; observation: Observation }> {
  const observation = await observe(orb, [{ job: target, command, params }], { canaries: [...canaries(), ...extra] });
  const result = observation.results[0];
  if (!result) throw new Error('no result');
  expect(observation.leaks).toEqual([]);
  return { result, observation };
}

/** The hosts the journal (~/.regauth/journal) has a docker login on record for. */
function journalLogins(target: LabJob): string[] {
  const text = readFileSync(join(target.env.HOME ?? target.cwd, '.regauth', 'journal'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { kind: string; key?: string })
    .filter((entry) => entry.kind === 'docker-login')
    .map((entry) => entry.key ?? '');
}

function config(target: LabJob): { auths?: Record<string, { auth?: string }> } {
  return JSON.parse(readFileSync(join(target.dockerConfig, 'config.json'), 'utf8')) as { auths?: Record<string, { auth?: string }> };
}

/** An empty file this old cannot be a lock being written: regauth takes it over. */
function age(file: string, seconds: number): void {
  const past = Date.now() / 1000 - seconds;
  utimesSync(file, past, past);
}

const LOCK_ROUNDS = 2;

/** node processes whose working directory is `cwd` (the steps of one job). */
function nodeProcessesIn(cwd: string): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) !== cwd) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.endsWith('node')) count += 1;
    } catch {
      // gone, or not ours to read
    }
  }
  return count;
}

function rows(): Row[] {
  return [
    {
      name: 'eight logins waiting on .regauth.lock when its owner dies (2 rounds): every entry kept and recorded, logout removes them all',
      needs: 'login',
      run: async (lab, scenario) => {
        // The race is between waiters that all find the dead pid at once: the lock's owner dies
        // while all eight are already polling it (a few rounds give the race every chance).
        let lost = 0;
        let invocations = 0;
        for (let round = 0; round < LOCK_ROUNDS; round++) {
          const target = job();
          const owner = spawn('sleep', ['120'], { stdio: 'ignore' });
          writeFileSync(join(target.dockerConfig, '.regauth.lock'), String(owner.pid));
          const running = observe(
            orb,
            lab.registries.map((registry) => ({ job: target, command: 'login', params: loginParams(registry) })),
            { canaries: canaries() },
          );
          await waitFor(async () => (nodeProcessesIn(target.cwd) >= lab.registries.length ? true : undefined), { what: 'eight logins waiting on the lock', timeoutMs: 30_000 });
          // Node is up in all eight; let each reach its polling loop (margin, not a wait for readiness).
          await new Promise((resolve) => setTimeout(resolve, 500));
          owner.kill('SIGKILL');
          const observation = await running;
          invocations += observation.invocations.length;
          expect(observation.leaks).toEqual([]);
          expect(observation.results.map((r) => r.exitCode)).toEqual(lab.registries.map(() => 0));
          const hosts = Object.keys(config(target).auths ?? {});
          const keys = journalLogins(target);
          lost += lab.registries.filter((r) => !hosts.includes(r.host) || !keys.includes(r.host)).length;
          if (round === LOCK_ROUNDS - 1) {
            const { result } = await step(target, 'logout', {});
            expect(result.exitCode).toBe(0);
            expect(Object.keys(config(target).auths ?? {}).filter((host) => lab.registries.some((r) => r.host === host))).toEqual([]);
          }
        }
        scenario.note(`${LOCK_ROUNDS} rounds of 8: ${LOCK_ROUNDS * 8 - lost} of ${LOCK_ROUNDS * 8} entries kept in config.json and the state file`);
        scenario.tally({ faultsInjected: LOCK_ROUNDS, faultsSurvived: LOCK_ROUNDS, entriesLost: lost, invocationsRecorded: invocations });
        expect(lost).toBe(0);
      },
    },
    {
      name: 'a named pipe at .regauth.lock: login ends at once with one line, instead of hanging',
      needs: 'login',
      run: async (lab, scenario) => {
        const target = job();
        execFileSync('mkfifo', [join(target.dockerConfig, '.regauth.lock')]);
        const started = performance.now();
        const { result } = await step(target, 'login', loginParams(lab.registries[0] as ScriptedRegistry));
        const seconds = (performance.now() - started) / 1000;
        scenario.tally({ hostileInputs: 1, faultsInjected: 1, faultsSurvived: 1 });
        expect(result.exitCode).not.toBe(0);
        expect(stderrLines(result)).toEqual([expect.stringMatching(/^regauth: login: .*\.regauth\.lock is a named pipe, not a lock regauth made: remove it/)]);
        expect(seconds).toBeLessThan(30);
      },
    },
    {
      name: 'an empty .regauth.lock left by a crash: taken over once old enough, login succeeds',
      needs: 'login',
      run: async (lab, scenario) => {
        const target = job();
        const lock = join(target.dockerConfig, '.regauth.lock');
        writeFileSync(lock, '');
        age(lock, 30);
        const { result } = await step(target, 'login', loginParams(lab.registries[0] as ScriptedRegistry));
        scenario.tally({ faultsInjected: 1, faultsSurvived: result.exitCode === 0 ? 1 : 0 });
        expect(result.stderr).toBe('');
        expect(result.exitCode).toBe(0);
        expect(existsSync(lock)).toBe(false);
      },
    },
    {
      name: 'registry quotes base64(user:password), the Basic header, in its refusal (redacted)',
      needs: 'login',
      run: async (lab, scenario) => {
        const registry = lab.registries[1] as ScriptedRegistry;
        registry.answer = (presented) => ({ ok: false, message: `credentials ${presented.header} (${presented.header.slice(6)}) are not valid here` });
        // "abcd:" is 5 bytes, so base64(password) alone is not aligned with base64(user:password).
        const { result } = await step(job({ REG_USER: 'abcd' }), 'login', loginParams(registry));
        scenario.tally({ secretsPlanted: 1, hostileInputs: 1 });
        assertOneLineFailure(result, /^regauth: login: could not log in to 127\.0\.0\.1:\d+ as abcd: the registry refused the credentials .*Basic \*\*\*/);
      },
    },
    {
      name: 'registry quotes the password around docker\'s 300-character cut (redacted before it is cut)',
      needs: 'login',
      run: async (lab, scenario) => {
        const registry = lab.registries[1] as ScriptedRegistry;
        const secret = canaryValue('straddle');
        // Three offsets 15 characters apart: wherever the cut falls, one copy straddles it deeply.
        for (const pad of [0, 15, 30]) {
          registry.answer = () => ({ ok: false, message: `${'-'.repeat(pad)}${Array.from({ length: 20 }, () => secret).join(' ')}` });
          const { result } = await step(job({ REG_PASS: secret }), 'login', loginParams(registry), [{ label: 'straddling password', value: secret }]);
          assertOneLineFailure(result, /the registry refused the credentials/);
          const output = result.stdout + result.stderr;
          expect(pieces(secret, 10).filter((piece) => output.includes(piece))).toEqual([]);
        }
        scenario.tally({ secretsPlanted: 3, hostileInputs: 3 });
      },
    },
    {
      name: 'password variable ends in a newline; the registry echoes it without (redacted)',
      needs: 'login',
      run: async (lab, scenario) => {
        const registry = lab.registries[1] as ScriptedRegistry;
        registry.answer = (presented) => ({ ok: false, message: `password ${presented.password} is wrong` });
        const { result } = await step(job({ REG_PASS: `${PASSWORD}\n` }), 'login', loginParams(registry));
        scenario.tally({ secretsPlanted: 1, hostileInputs: 1 });
        assertOneLineFailure(result, /password \*\*\* is wrong/);
      },
    },
    {
      name: 'registry answers with escape sequences, carriage returns and forged regauth lines (stripped, one quoted line)',
      needs: 'login',
      run: async (lab, scenario) => {
        const registry = lab.registries[1] as ScriptedRegistry;
        registry.answer = () => ({ ok: false, message: '\u001b[32mok\u001b[0m\r\u001b[2Kregauth: logged in to 127.0.0.1:1 as ci\nregauth: logged in to evil.example' });
        const { result } = await step(job(), 'login', loginParams(registry));
        scenario.tally({ hostileInputs: 1 });
        const output = result.stdout + result.stderr;
        // eslint-disable-next-line no-control-regex -- control characters are what is checked for
        expect(output).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
        expect(output.split('\n').filter((line) => line.startsWith('regauth: logged in'))).toEqual([]);
        assertOneLineFailure(result, /^regauth: login: could not log in to .*the registry refused the credentials \(".*unauthorized: ok regauth: logged in to 127\.0\.0\.1:1 as ci"\)/);
      },
    },
    {
      name: 'an ECR endpoint quotes the session token 210 characters in (redacted before it is cut)',
      needs: 'ecr-oidc-login',
      run: async (lab, scenario) => {
        const before = lab.ecrEcho.tokens.length;
        const target = job({ ...(await awsEnv(lab)), AWS_ENDPOINT_URL_ECR: lab.ecrEcho.url });
        const result = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE }, target);
        const tokens = lab.ecrEcho.tokens.slice(before).filter((token) => token !== '');
        scenario.tally({ secretsPlanted: tokens.length, hostileInputs: 1 });
        expect(tokens.length).toBeGreaterThan(0);
        assertOneLineFailure(result, /^regauth: ecr-oidc-login: ecr:GetAuthorizationToken failed: InvalidParameterException/);
        const output = result.stdout + result.stderr;
        expect(tokens.flatMap((token) => pieces(token)).filter((piece) => output.includes(piece))).toEqual([]);
      },
    },
    ...inputRows(),
    {
      name: 'a planted journal: logout passes no flag to docker and deletes no file regauth did not write',
      needs: 'logout',
      run: async (_lab, scenario) => {
        const target = job();
        const project = join(target.cwd, 'project.txt');
        writeFileSync(project, 'keep me\n');
        mkdirSync(join(target.cwd, '.regauth'), { mode: 0o700 });
        const planted = [
          ...['--help', 'a b', 'x/../y'].map((key) => ({ kind: 'docker-login', configDir: target.dockerConfig, key })),
          ...[project, join(target.cwd, '.regauth', '..', 'project.txt'), '/etc/hostname'].map((path) => ({ kind: 'file', path })),
          // Issue 25 item 8: a name that would be a command in every later step, and a docker config elsewhere.
          { kind: 'export', name: 'PATH=/tmp/x; touch /tmp/regauth-planted; X', previous: 'y' },
          { kind: 'export', name: 'LD_PRELOAD' },
          { kind: 'docker-auth', configDir: join(target.cwd, 'planted-docker-config'), key: 'r.example.com' },
        ];
        writeFileSync(join(target.env.HOME ?? target.cwd, '.regauth', 'journal'), planted.map((entry) => `${JSON.stringify(entry)}\n`).join(''), { mode: 0o600 });
        const { result, observation } = await step(target, 'logout', {});
        scenario.tally({ hostileInputs: 9, invocationsRecorded: observation.invocations.length });
        expect(readFileSync(target.bashEnvFile, 'utf8')).toBe('');
        expect(existsSync(join(target.cwd, 'planted-docker-config'))).toBe(false);
        expect(result.stdout.split('\n').filter((line) => line.startsWith('regauth: ignored '))).toHaveLength(9);
        expect(result.exitCode).toBe(0);
        expect(readFileSync(project, 'utf8')).toBe('keep me\n');
        expect(observation.invocations.filter((i) => i.tool === 'docker')).toEqual([]);
        expect(result.stdout).toMatch(/ignored a record for "--help", which is not a registry host/);
      },
    },
    {
      name: 'docker login in flight: the login is already on record and a loose config.json is already 0600',
      needs: 'login',
      run: async (lab, scenario) => {
        const registry = lab.registries[2] as ScriptedRegistry;
        const target = job();
        chmodSync(join(target.dockerConfig, 'config.json'), 0o644);
        const gate = registry.hold();
        const running = step(target, 'login', loginParams(registry));
        await gate.held;
        // docker has sent the credentials; a SIGKILL now would leave them behind.
        const recorded = journalLogins(target);
        const mode = statSync(join(target.dockerConfig, 'config.json')).mode & 0o777;
        gate.release();
        const { result } = await running;
        scenario.tally({ faultsInjected: 1, faultsSurvived: 1 });
        expect(recorded).toContain(registry.host);
        expect(mode.toString(8)).toBe('600');
        expect(result.exitCode).toBe(0);
        expect((statSync(join(target.dockerConfig, 'config.json')).mode & 0o777).toString(8)).toBe('600');
      },
    },
    {
      name: 'login over an existing auths entry (the runner\'s own), then logout: the entry comes back',
      needs: 'login',
      run: async (lab, scenario) => {
        const registry = lab.registries[3] as ScriptedRegistry;
        const target = job();
        const own = { auth: Buffer.from('runner:runner-own-token').toString('base64') };
        const before = config(target);
        writeFileSync(join(target.dockerConfig, 'config.json'), JSON.stringify({ ...before, auths: { ...before.auths, [registry.host]: own } }), { mode: 0o600 });
        expect((await step(target, 'login', loginParams(registry))).result.exitCode).toBe(0);
        expect(config(target).auths?.[registry.host]).not.toEqual(own);
        expect((await step(target, 'logout', {})).result.exitCode).toBe(0);
        const restored = config(target).auths?.[registry.host];
        scenario.tally({ entriesLost: restored && JSON.stringify(restored) === JSON.stringify(own) ? 0 : 1 });
        expect(restored).toEqual(own);
      },
    },
    {
      name: 'export_credentials where ~/.regauth/aws is a link to ~/.aws: refused, the user\'s files untouched',
      needs: 'ecr-oidc-login',
      run: async (lab, scenario) => {
        const target = job({ ...(await awsEnv(lab)), CIRCLE_BUILD_NUM: '77' });
        const home = target.env.HOME ?? target.cwd;
        const aws = join(home, '.aws');
        mkdirSync(aws, { recursive: true, mode: 0o700 });
        writeFileSync(join(aws, 'credentials'), '[default]\naws_access_key_id = USERSOWN\n', { mode: 0o600 });
        writeFileSync(join(aws, 'config'), '[default]\nregion = eu-west-1\n', { mode: 0o600 });
        mkdirSync(join(home, '.regauth'), { recursive: true, mode: 0o700 });
        symlinkSync(aws, join(home, '.regauth', 'aws'));
        // The static keys (refresh: false) are the ones written to ~/.regauth/aws/<profile>.json.
        const result = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, export_credentials: true, refresh: false }, target);
        assertOneLineFailure(result, /^regauth: ecr-oidc-login: .*\.regauth\/aws is a symbolic link/);
        const logout = await runOrbCommand(orb, 'logout', {}, target);
        scenario.tally({ hostileInputs: 1 });
        expect(logout.exitCode).toBe(0);
        expect(readFileSync(join(aws, 'credentials'), 'utf8')).toBe('[default]\naws_access_key_id = USERSOWN\n');
        expect(readFileSync(join(aws, 'config'), 'utf8')).toBe('[default]\nregion = eu-west-1\n');
      },
    },
    {
      name: 'export_credentials where ~/.regauth is a link: refused, the link\'s target keeps its mode',
      needs: 'ecr-oidc-login',
      run: async (lab, scenario) => {
        const target = job({ ...(await awsEnv(lab)), CIRCLE_BUILD_NUM: '78' });
        const home = target.env.HOME ?? target.cwd;
        const shared = join(target.cwd, 'shared');
        mkdirSync(shared, { mode: 0o755 });
        chmodSync(shared, 0o755);
        symlinkSync(shared, join(home, '.regauth'));
        const result = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, export_credentials: true }, target);
        scenario.tally({ hostileInputs: 1 });
        assertOneLineFailure(result, /^regauth: ecr-oidc-login: .*\.regauth is a symbolic link/);
        expect((statSync(shared).mode & 0o777).toString(8)).toBe('755');
      },
    },
    {
      name: 'docker login says "context deadline exceeded" once: retried like pull retries it',
      needs: 'login',
      run: async (lab, scenario) => {
        const registry = lab.registries[4] as ScriptedRegistry;
        // A stand-in for the docker CLI on PATH (named as such): its first login answers with
        // docker's wording for a registry that timed out, then the real docker runs.
        const dir = makeTempDir('regauth-deadline-').path;
        const real = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
        writeFileSync(
          join(dir, 'docker'),
          `#!/bin/bash\nif [ "$1" = login ] && [ ! -e "${dir}/failed-once" ]; then touch "${dir}/failed-once"; cat >/dev/null; echo 'Error response from daemon: Get "https://${registry.host}/v2/": context deadline exceeded' >&2; exit 1; fi\nexec "${real}" "$@"\n`,
        );
        chmodSync(join(dir, 'docker'), 0o755);
        const target = job();
        const result = await runOrbCommand(orb, 'login', loginParams(registry), target, { extraEnv: { PATH: `${dir}:${target.env.PATH ?? '/usr/bin:/bin'}` } });
        scenario.attempts(2);
        scenario.tally({ faultsInjected: 1, faultsSurvived: result.exitCode === 0 ? 1 : 0 });
        expect(result.stderr).toBe('');
        expect(result.exitCode).toBe(0);
        // The retry line carries no remote text (the failure line would carry it once).
        expect(result.stdout).toMatch(/login to 127\.0\.0\.1:\d+ failed \(attempt 1\); retrying in \d+\.\d s/);
        expect(result.stdout).toMatch(/logged in to 127\.0\.0\.1:\d+ as ci, does not renew \(a fixed password\) \(after 2 attempts\)/);
      },
    },
  ];
}

/** `${VAR}` values that fail validation must be named, never shown (in any case). */
function inputRows(): Row[] {
  const secret = `Canary_Secret.${canaryValue('expanded').slice(-18).toUpperCase()}`;
  const cases: { command: string; params: Record<string, ParameterValue>; parameter: string }[] = [
    { command: 'pull', params: { images: '${CIRCLE_OIDC_TOKEN}' }, parameter: 'images' },
    { command: 'pull', params: { images: 'alpine:3', platform: '${REG_PASS}' }, parameter: 'platform' },
    { command: 'login', params: { registry: '${REG_PASS}', username: 'REG_USER', password: 'REG_PASS' }, parameter: 'registry' },
    { command: 'ecr-oidc-login', params: { role_arn: ROLE, region: 'us-east-1', account_ids: '${REG_PASS}' }, parameter: 'account_ids' },
    { command: 'logout', params: { registries: 'docker.io,${REG_PASS}' }, parameter: 'registries' },
  ];
  return [
    {
      name: 'input errors name the variable a bad value came from, never its contents (images, platform, registry, account_ids, registries)',
      needs: 'login',
      run: async (_lab, scenario) => {
        for (const c of cases) {
          if (!(c.command in orb.commands)) continue;
          const target = job({ REG_PASS: secret, CIRCLE_OIDC_TOKEN: secret });
          const result = await runOrbCommand(orb, c.command, c.params, target);
          const output = (result.stdout + result.stderr).toLowerCase();
          expect(output.includes(secret.toLowerCase()) || pieces(secret.toLowerCase(), 10).some((piece) => output.includes(piece)), `${c.command} ${c.parameter}: ${result.stderr}`).toBe(false);
          expect(result.exitCode).toBe(2);
          expect(stderrLines(result)).toEqual([expect.stringMatching(new RegExp(`^regauth: ${c.command}: parameter ${c.parameter}: .*\\$\\{?(REG_PASS|CIRCLE_OIDC_TOKEN)`))]);
        }
        scenario.tally({ secretsPlanted: cases.length, hostileInputs: cases.length });
      },
    },
  ];
}

describe.runIf(enabled)('hardening: hostile remote text, planted files, killed steps', () => {
  let lab: Lab;

  beforeAll(async () => {
    const registries = await Promise.all(Array.from({ length: 8 }, () => startScriptedRegistry()));
    const aws = await startLocalAws({ roles: { [ROLE]: { subPattern: 'org/*' } }, ecrPassword: ECR_PASSWORD, proxyEndpoints: { [ACCOUNT]: `http://${registries[0]?.host ?? ''}` } });
    lab = { registries, aws, ecrEcho: await startEcrEcho() };
  });

  afterAll(async () => {
    rec.flush();
    await Promise.all([...(lab?.registries ?? []).map((r) => r.stop()), lab?.aws.stop(), lab?.ecrEcho.stop()]);
  });

  for (const row of rows()) {
    if (!(row.needs in orb.commands)) {
      rec.skip(row.name, `regauth/${row.needs} is not in dist/orb.yml yet`);
      it.skip(row.name, () => undefined);
      continue;
    }
    rec.reserve(row.name);
    it(row.name, async () => {
      for (const registry of lab.registries) registry.answer = () => ({ ok: true });
      await rec.scenario(row.name, (scenario) => row.run(lab, scenario));
    });
  }
});
