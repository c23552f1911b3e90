/**
 * Hardening: what an attacker controls besides the parameters — a registry's or endpoint's
 * error text, stale and planted files in the docker config and HOME, a step killed half way —
 * through the packed orb, against registries and endpoints of the test's own on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryValue, type Canary } from '../support/canary.ts';
import { SuiteRecorder, type ScenarioHandle } from '../support/reliability-report.ts';
import { loadOrb, runOrbCommand, type CommandResult, type ParameterValue } from '../support/step-runner.ts';
import { requireTools } from '../support/tools.ts';
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

function config(target: LabJob): { auths?: Record<string, { auth?: string }> } {
  return JSON.parse(readFileSync(join(target.dockerConfig, 'config.json'), 'utf8')) as { auths?: Record<string, { auth?: string }> };
}

/** An empty file this old cannot be a lock being written: regauth takes it over. */
function age(file: string, seconds: number): void {
  const past = Date.now() / 1000 - seconds;
  utimesSync(file, past, past);
}

const LOCK_ROUNDS = 4;
const DEAD_PID = '4194303'; // above any pid_max default: never a live process

function rows(): Row[] {
  return [
    {
      name: 'eight logins at once while .regauth.lock holds a dead pid (4 rounds): every entry kept and recorded, logout removes them all',
      needs: 'login',
      run: async (lab, scenario) => {
        // The race is between processes that all read the dead pid before any of them acts: a
        // few rounds give it every chance to show.
        let lost = 0;
        let invocations = 0;
        for (let round = 0; round < LOCK_ROUNDS; round++) {
          const target = job();
          writeFileSync(join(target.dockerConfig, '.regauth.lock'), DEAD_PID);
          const observation = await observe(
            orb,
            lab.registries.map((registry) => ({ job: target, command: 'login', params: loginParams(registry) })),
            { canaries: canaries() },
          );
          invocations += observation.invocations.length;
          expect(observation.leaks).toEqual([]);
          expect(observation.results.map((r) => r.exitCode)).toEqual(lab.registries.map(() => 0));
          const hosts = Object.keys(config(target).auths ?? {});
          const state = JSON.parse(readFileSync(join(target.dockerConfig, 'regauth-state.json'), 'utf8')) as { logins: { key: string }[] };
          const keys = state.logins.map((l) => l.key);
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
  ];
}

describe.runIf(enabled)('hardening: hostile remote text, planted files, killed steps', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = { registries: await Promise.all(Array.from({ length: 8 }, () => startScriptedRegistry())) };
  });

  afterAll(async () => {
    rec.flush();
    await Promise.all((lab?.registries ?? []).map((r) => r.stop()));
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

// Used by rows added below; kept here so every row shares one import list.
void lstatSync;
void mkdirSync;
void statSync;
void symlinkSync;
void runOrbCommand;
