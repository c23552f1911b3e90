/**
 * Hostile input through the packed orb: every parameter of every command gets shell
 * metacharacters, command substitution, newlines, quotes, look-alikes, huge and empty values
 * (fast-check, fixed seeds). Nothing may ever execute (the canary file never appears); a value
 * no parser may accept fails the step with one line naming the parameter, before docker runs
 * and before anything is written.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../support/aws/index.ts';
import { createArgvShims, type ArgvShims } from '../support/canary.ts';
import { SuiteRecorder } from '../support/reliability-report.ts';
import { CompileError, loadOrb, runOrbCommand, type ParameterValue } from '../support/step-runner.ts';
import { requireTools } from '../support/tools.ts';
import { entriesLost, labJob, stderrLines, type LabJob } from './harness.ts';
import { hostileScalars, hostileValues, type HostileValue } from './hostile-values.ts';

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
    valid: { images: '127.0.0.1:1/app/api:1.4.2', platform: 'linux/amd64', mirror: '127.0.0.1:1/docker-hub' },
    base: { images: '127.0.0.1:1/app/api:1.4.2', max_attempts: 1 },
    env: { DOCKER_HOST: NO_DAEMON },
    optional: ['platform', 'mirror'],
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
    canaryDir = mkdtempSync('/tmp/regauth-hostile-');
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
