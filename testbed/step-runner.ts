import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { SYSTEM_ROOT_OVERRIDE } from '../src/core/places.ts';
import { makeTempDir } from './tempdir.ts';

/**
 * Runs a command of the packed dist/orb.yml the way CircleCI runs it: parameters checked and
 * substituted at compile time (an env_var_name parameter substitutes the variable's name), `\<<`
 * unescaped, each run step's `environment:` merged over the job's, the command handed to
 * `/bin/bash -eo pipefail -c` as one argument, a BASH_ENV file that bash sources at each step, and
 * CircleCI's usual variables. It is the artifact users run that the end-to-end tests execute.
 */
export type Orb = {
  commands: Record<string, OrbCommand>;
  [key: string]: unknown;
};

interface ParameterDefinition {
  type: 'string' | 'boolean' | 'integer' | 'enum' | 'env_var_name' | 'steps';
  default?: unknown;
  enum?: string[];
}

interface OrbCommand {
  parameters?: Record<string, ParameterDefinition>;
  steps: unknown[];
}

export type ParameterValue = string | number | boolean;

export class CompileError extends Error {}

export interface JobContext {
  /** Environment of the job (project/context variables plus the test's own). */
  env: Record<string, string>;
  /** BASH_ENV file shared by the steps of one job. */
  bashEnvFile: string;
  cwd: string;
}

export interface StepResult {
  name: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  command: string;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  steps: StepResult[];
}

export const DIST_ORB = resolve(import.meta.dirname, '..', 'dist', 'orb.yml');

export function loadOrb(file = DIST_ORB): Orb {
  return parse(readFileSync(file, 'utf8')) as Orb;
}

let jobCounter = 0;

/** A fresh job: its own HOME, DOCKER_CONFIG-free environment and BASH_ENV, CircleCI's variables. */
export function newJob(env: Record<string, string> = {}): JobContext {
  // Jobs are cheap and many (property tests make thousands): makeTempDir removes their
  // directories when the test process ends, however it ends.
  const dir = makeTempDir('regauth-job-').path;
  const bashEnvFile = join(dir, 'bash_env');
  writeFileSync(bashEnvFile, '');
  jobCounter += 1;
  const circle: Record<string, string> = {
    CI: 'true',
    CIRCLECI: 'true',
    CIRCLE_BUILD_NUM: String(4000 + jobCounter),
    CIRCLE_JOB: 'test',
    CIRCLE_BRANCH: 'main',
    CIRCLE_SHA1: '0123456789abcdef0123456789abcdef01234567',
    CIRCLE_PROJECT_REPONAME: 'app',
    CIRCLE_PROJECT_USERNAME: 'org',
    CIRCLE_ORGANIZATION_ID: '7f4cd3c7-3a2b-4a52-8b6e-1b0f7c9e2d11',
    CIRCLE_PROJECT_ID: 'c2f3e9a1-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
    CIRCLE_WORKING_DIRECTORY: dir,
    HOME: dir,
    // The job's own stand-in for the machine's system places (src/core/places.ts): nothing a
    // test runs installs into /usr/local/bin or marks /tmp. Tests that share a machine pass one.
    [SYSTEM_ROOT_OVERRIDE]: join(dir, 'machine'),
  };
  return {
    // ~/bin first, as on CircleCI's cimg images (missing until something installs there).
    env: { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`, LANG: 'C.UTF-8', ...circle, ...env },
    bashEnvFile,
    cwd: dir,
  };
}

/** Compile-time expansion of one command invocation into its steps (CircleCI's semantics). */
export function compileCommand(orb: Orb, name: string, given: Record<string, ParameterValue>): unknown[] {
  const command = orb.commands[name];
  if (!command) throw new CompileError(`Cannot find a definition for command named regauth/${name}`);
  const declared = command.parameters ?? {};
  for (const key of Object.keys(given)) {
    if (!(key in declared)) throw new CompileError(`Unexpected argument(s): ${key}`);
  }
  const values: Record<string, ParameterValue> = {};
  for (const [key, definition] of Object.entries(declared)) {
    const value = key in given ? given[key] : definition.default;
    if (value === undefined) throw new CompileError(`Missing required argument(s): ${key}`);
    values[key] = checkType(key, definition, value);
  }
  const substituted = substitute(command.steps, values);
  return (substituted as unknown[]).flatMap((step) => expandWhen(step));
}

function checkType(key: string, definition: ParameterDefinition, value: unknown): ParameterValue {
  switch (definition.type) {
    case 'string':
      if (typeof value !== 'string') throw new CompileError(`Type error for argument ${key}: expected type: string, actual value: ${String(value)}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new CompileError(`Type error for argument ${key}: expected type: boolean`);
      return value;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new CompileError(`Type error for argument ${key}: expected type: integer`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !definition.enum?.includes(value)) throw new CompileError(`Type error for argument ${key}: expected one of ${definition.enum?.join(', ')}`);
      return value;
    case 'env_var_name':
      // CircleCI refuses anything but a POSIX-ish variable name at compile time.
      if (typeof value !== 'string' || !/^[a-zA-Z][a-zA-Z0-9_-]*$/.test(value)) throw new CompileError(`Type error for argument ${key}: expected an environment variable name`);
      return value;
    default:
      throw new CompileError(`unsupported parameter type ${definition.type}`);
  }
}

const REFERENCE = /(?<!\\)<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>/g;

function substitute(node: unknown, values: Record<string, ParameterValue>): unknown {
  if (typeof node === 'string') {
    const whole = /^(?<!\\)<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>$/.exec(node.trim());
    if (whole?.[1] !== undefined && whole[1] in values) return values[whole[1]];
    return node
      .replace(REFERENCE, (match, name: string) => {
        if (!(name in values)) throw new CompileError(`Unknown parameter referenced: ${match}`);
        return String(values[name]);
      })
      .replaceAll('\\<<', '<<');
  }
  if (Array.isArray(node)) return node.map((item) => substitute(item, values));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, substitute(value, values)]));
  }
  return node;
}

/** `when:`/`unless:` steps with a literal condition (after substitution). */
function expandWhen(step: unknown): unknown[] {
  if (step !== null && typeof step === 'object' && ('when' in step || 'unless' in step)) {
    const block = ('when' in step ? (step as { when: unknown }).when : (step as { unless: unknown }).unless) as { condition: unknown; steps: unknown[] };
    const truthy = Boolean(block.condition) && block.condition !== 'false' && block.condition !== '';
    const run = 'when' in step ? truthy : !truthy;
    return run ? block.steps.flatMap(expandWhen) : [];
  }
  return [step];
}

export interface RunOptions {
  /** Wraps the bash process, e.g. with a PATH of argv-recording shims. */
  extraEnv?: Record<string, string>;
  /** Called with the pid of each step's bash once started (for /proc sampling). */
  onStart?: (pid: number) => void;
  /** Called with each chunk of a step's output as it arrives (to time lines). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** A command each step's bash runs under (e.g. nsenter into a private mount namespace, as another user). */
  wrap?: readonly string[];
}

/** Runs `regauth/<name>` with `params` in `job`; stops at the first failing step like CircleCI. */
export async function runOrbCommand(orb: Orb, name: string, params: Record<string, ParameterValue>, job: JobContext, options: RunOptions = {}): Promise<CommandResult> {
  const steps = compileCommand(orb, name, params);
  const results: StepResult[] = [];
  let failed = false;
  for (const step of steps) {
    const run = (step as { run?: { name?: string; command: string; environment?: Record<string, unknown>; when?: string; no_output_timeout?: unknown } }).run;
    if (!run) throw new Error(`unsupported step in regauth/${name}: ${JSON.stringify(step).slice(0, 80)}`);
    const when = run.when ?? 'on_success';
    if ((failed && when === 'on_success') || (!failed && when === 'on_fail')) continue;
    const stepEnv: Record<string, string> = { ...job.env, ...options.extraEnv, BASH_ENV: job.bashEnvFile };
    for (const [key, value] of Object.entries(run.environment ?? {})) stepEnv[key] = String(value);
    const result = await runBash(run.command, stepEnv, job.cwd, options.onStart, options.onOutput, silenceLimit(run.no_output_timeout), options.wrap);
    results.push({ name: run.name ?? '', command: run.command, ...result });
    if (result.exitCode !== 0) failed = true;
  }
  return {
    exitCode: failed ? (results.find((r) => r.exitCode !== 0)?.exitCode ?? 1) : 0,
    stdout: results.map((r) => r.stdout).join(''),
    stderr: results.map((r) => r.stderr).join(''),
    steps: results,
  };
}

/** Runs a plain shell step in the job (e.g. the user's own `docker pull`), with BASH_ENV sourced. */
export function runUserStep(job: JobContext, command: string, extraEnv: Record<string, string> = {}, wrap?: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return runBash(command, { ...job.env, ...extraEnv, BASH_ENV: job.bashEnvFile }, job.cwd, undefined, undefined, undefined, wrap);
}

/**
 * A step in /bin/sh with no $BASH_ENV, as a `shell: /bin/sh` step or a tool started outside bash;
 * `drop` removes more of the job's variables (a step that lacks the login's settings).
 */
export function runShStep(job: JobContext, command: string, extra: Record<string, string> = {}, drop: readonly string[] = []): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = { ...job.env, ...extra };
  for (const name of ['BASH_ENV', ...drop]) delete env[name];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { env, cwd: job.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ exitCode: code ?? 1, stdout, stderr }));
  });
}

/**
 * Shell that prints the docker-credential-regauth a step finds on PATH when it is this job's own
 * (under its HOME, where the job's stand-in system places are too), else `none`: a program another
 * job left in the machine's /usr/local/bin is not this job's to remove.
 */
export const JOBS_HELPER_ON_PATH = 'p=$(command -v docker-credential-regauth) && [[ $p == "$HOME"/* ]] && echo "$p" || echo none';

/** Polls the clock (no fixed sleep): resolves once `epochSeconds` has passed. */
export async function untilEpoch(epochSeconds: number): Promise<void> {
  while (Date.now() / 1000 <= epochSeconds) await new Promise((resolvePromise) => setTimeout(resolvePromise, 100));
}

/**
 * A run step's no_output_timeout (`90s`, `20m`, `1.5h`) in ms, enforced as CircleCI does. A value
 * that is no duration sets no limit here, so the step's own validation is what the tests see.
 */
function silenceLimit(value: unknown): { ms: number; text: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)([smh])$/.exec(value.trim());
  if (!match?.[1] || !match[2]) return undefined;
  return { ms: Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'], text: value.trim() };
}

/** CircleCI's words when a step was silent too long. */
export const NO_OUTPUT_MESSAGE = 'Too long with no output (exceeded';

function runBash(
  command: string,
  env: Record<string, string>,
  cwd: string,
  onStart?: (pid: number) => void,
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void,
  silence?: { ms: number; text: string },
  wrap: readonly string[] = [],
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const argv = [...wrap, '/bin/bash', '-eo', 'pipefail', '-c', command];
    const [program = '/bin/bash', ...args] = argv;
    // With a silence limit the step gets its own process group, so ending it ends its children.
    const child = spawn(program, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: silence !== undefined });
    if (child.pid !== undefined) onStart?.(child.pid);
    let stdout = '';
    let stderr = '';
    let silenced = false;
    let timer: NodeJS.Timeout | undefined;
    const rearm = (): void => {
      if (silence === undefined) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        silenced = true;
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      }, silence.ms);
    };
    rearm();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      rearm();
      onOutput?.(chunk, 'stdout');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      rearm();
      onOutput?.(chunk, 'stderr');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer !== undefined) clearTimeout(timer);
      if (silenced) stderr += `${NO_OUTPUT_MESSAGE} ${silence?.text ?? ''}): context deadline exceeded\n`;
      resolvePromise({ exitCode: silenced ? 1 : (code ?? 1), stdout, stderr });
    });
  });
}
