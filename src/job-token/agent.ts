import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import { findOnPath } from '../core/path-lookup.ts';
import { formatDuration } from '../core/units.ts';
import { ProcessStartError, runProcess as realRunProcess, type RunProcess } from '../core/process.ts';

/**
 * Which program mints job tokens in this step. CircleCI's job agent is `circleci-agent`; `circleci`
 * is its alias, which self-hosted runners may lack, and which the stand-alone CircleCI CLI (where
 * `circleci run` starts CI runs) can shadow. The rule, in order:
 * 1. `circleci-agent` on PATH: the agent.
 * 2. `circleci` on PATH that resolves (through links) to a file named `circleci-agent`: the agent.
 * 3. another `circleci`: asked `circleci run oidc get --help` (help only, never a run, with a
 *    deadline); the agent if it exits 0 and its help names `--claims`, else a foreign program.
 */
export type AgentLookup = { found: true; command: string; name: 'circleci-agent' | 'circleci' } | { found: false; problem: string };

export interface AgentLookupDeps {
  run?: RunProcess;
  realpath?: (path: string) => Promise<string>;
  probeDeadlineMs?: number;
}

const PROBE_DEADLINE_MS = 5_000;
const PROBE_ENV = ['PATH', 'HOME', 'LANG', 'TMPDIR'] as const;

/** One lookup per PATH in a process (a login asks up to three times), for the real lookup only. */
const lookups = new Map<string, Promise<AgentLookup>>();

export function findAgent(env: Readonly<Record<string, string | undefined>>, deps: AgentLookupDeps = {}): Promise<AgentLookup> {
  const real = (deps.run ?? realRunProcess) === realRunProcess && deps.realpath === undefined && deps.probeDeadlineMs === undefined;
  if (!real) return lookUp(env, deps);
  const key = env.PATH ?? '';
  let lookup = lookups.get(key);
  if (lookup === undefined) {
    lookup = lookUp(env, deps);
    lookups.set(key, lookup);
  }
  return lookup;
}

async function lookUp(env: Readonly<Record<string, string | undefined>>, deps: AgentLookupDeps): Promise<AgentLookup> {
  const agent = await findOnPath('circleci-agent', env.PATH);
  if (agent) return { found: true, command: agent, name: 'circleci-agent' };
  const alias = await findOnPath('circleci', env.PATH);
  if (!alias) return { found: false, problem: 'neither circleci-agent nor circleci is on PATH' };
  const target = await (deps.realpath ?? fs.realpath)(alias).catch(() => alias);
  if (basename(target) === 'circleci-agent') return { found: true, command: alias, name: 'circleci' };
  const verdict = await probe(alias, env, deps);
  if (verdict === undefined) return { found: true, command: alias, name: 'circleci' };
  // e.g. the stand-alone CircleCI CLI, where `circleci run` starts CI runs.
  return { found: false, problem: `${alias} is not CircleCI's job agent (${verdict}), nor is circleci-agent on PATH` };
}

/** undefined: the program knows `run oidc get --claims`; else why it is taken for another program. */
async function probe(command: string, env: Readonly<Record<string, string | undefined>>, deps: AgentLookupDeps): Promise<string | undefined> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deps.probeDeadlineMs ?? PROBE_DEADLINE_MS);
  try {
    // A program not yet known to be the agent gets none of the job's variables (tokens among them).
    const bare = Object.fromEntries(PROBE_ENV.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]]])));
    const result = await (deps.run ?? realRunProcess)({ command, args: ['run', 'oidc', 'get', '--help'], env: bare, signal: controller.signal });
    if (controller.signal.aborted) return `its help gave no answer within ${formatDuration(deps.probeDeadlineMs ?? PROBE_DEADLINE_MS)}`;
    if (result.exitCode !== 0) return `its help exited with ${result.exitCode}`;
    if (!/--claims\b/.test(`${result.stdout}\n${result.stderr}`)) return 'its help offers no --claims';
    return undefined;
  } catch (error) {
    if (error instanceof ProcessStartError) return error.message;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
