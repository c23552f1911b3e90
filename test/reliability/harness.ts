/**
 * Runs packed-orb steps under every instrument (argv shims, /proc sampler, file scan) and
 * returns what was observed; shared by the reliability suites.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createArgvShims,
  findCanaries,
  scanFiles,
  startProcSampler,
  tmpEntries,
  type Canary,
  type Invocation,
  type Leak,
} from '../support/canary.ts';
import { newJob, runOrbCommand, runUserStep, type CommandResult, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';

export interface StepRun {
  job: JobContext;
  command: string;
  params: Record<string, ParameterValue>;
  /** Instead of an orb command: a bash step of the user's own (the instruments' positive control). */
  script?: string;
  /** Over the job's environment for this step only (PATH gets the shims in front). */
  env?: Record<string, string>;
}

export interface Observation {
  results: CommandResult[];
  seconds: number;
  leaks: Leak[];
  invocations: Invocation[];
  filesScanned: number;
}

export interface ObserveOptions {
  /** A function when some canaries are minted during the step (read after the step ends). */
  canaries: readonly Canary[] | (() => readonly Canary[]);
  /** Files besides each job's config.json and exported profiles that may hold a secret. */
  allowed?: readonly string[];
  /** Sets what `circleci run oidc get` prints. */
  oidcToken?: string;
}

/** Runs the steps at once under one sampler and one set of shims, then looks for every canary everywhere. */
export async function observe(orb: Orb, runs: readonly StepRun[], options: ObserveOptions): Promise<Observation> {
  const shims = createArgvShims();
  shims.setOidcToken(options.oidcToken);
  const tmpBefore = tmpEntries();
  const sampler = startProcSampler();
  const started = performance.now();
  let results: CommandResult[];
  let sample: Awaited<ReturnType<typeof sampler.stop>>;
  try {
    results = await Promise.all(
      runs.map((run) => {
        const path = run.env?.PATH ?? run.job.env.PATH ?? '/usr/bin:/bin';
        const extraEnv = { ...run.env, PATH: shims.pathWith(path) };
        if (run.script !== undefined) return runUserStep(run.job, run.script, extraEnv).then((result) => ({ ...result, steps: [] }));
        return runOrbCommand(orb, run.command, run.params, run.job, { extraEnv });
      }),
    );
  } catch (error) {
    shims.remove();
    throw error;
  } finally {
    sample = await sampler.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const invocations = shims.invocations();
  shims.remove();

  const canaries = typeof options.canaries === 'function' ? options.canaries() : options.canaries;
  const leaks: Leak[] = [];
  results.forEach((result, index) => {
    leaks.push(...findCanaries(result.stdout, canaries, `stdout of step ${index + 1}`));
    leaks.push(...findCanaries(result.stderr, canaries, `stderr of step ${index + 1}`));
  });
  for (const invocation of invocations) leaks.push(...findCanaries(invocation.argv.join('\0'), canaries, `argv of ${invocation.tool}`));
  for (const cmdline of sample.cmdlines) leaks.push(...findCanaries(cmdline, canaries, '/proc cmdline'));
  const roots = new Set<string>();
  const allowed = new Set<string>(options.allowed ?? []);
  for (const { job } of runs) {
    leaks.push(...findCanaries(readFileSync(job.bashEnvFile, 'utf8'), canaries, '$BASH_ENV'));
    roots.add(job.cwd);
    const dockerConfig = configDir(job);
    roots.add(dockerConfig);
    allowed.add(join(dockerConfig, 'config.json'));
    for (const file of exportedFiles(job)) {
      allowed.add(file);
      roots.add(file);
    }
    // docker-credential-regauth's cache (refresh: true) holds what config.json would: 0600 entries in 0700 directories.
    const helperCache = join(job.cwd, '.regauth', 'helper', 'cache');
    if (existsSync(helperCache)) for (const name of readdirSync(helperCache)) allowed.add(join(helperCache, name));
  }
  for (const entry of tmpEntries()) if (!tmpBefore.has(entry)) roots.add(entry);
  const scan = scanFiles({ roots: [...roots], canaries, allowed: [...allowed] });
  leaks.push(...scan.leaks);
  for (const problem of scan.permissionProblems) leaks.push({ where: problem, label: 'file mode' });
  return { results, seconds, leaks, invocations, filesScanned: scan.filesScanned };
}

/** DOCKER_CONFIG of a job, as regauth resolves it. */
export function configDir(job: JobContext): string {
  return job.env.DOCKER_CONFIG ?? join(job.env.HOME ?? job.cwd, '.docker');
}

/**
 * Files regauth put on record in its journal (exported keys, credential files), and the journal
 * itself (it keeps the job's own docker entries regauth replaced, to give them back): 0600 in 0700.
 */
export function exportedFiles(job: JobContext): string[] {
  const journal = join(job.env.HOME ?? job.cwd, '.regauth', 'journal');
  try {
    const files = readFileSync(journal, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { kind?: string; path?: unknown })
      .filter((entry) => entry.kind === 'file' && typeof entry.path === 'string')
      .map((entry) => entry.path as string);
    return [journal, ...files].filter((file) => existsSync(file));
  } catch {
    return [];
  }
}

/** What every job starts with: a docker config holding an entry and settings regauth must keep. */
export const FOREIGN_CONFIG = {
  auths: { 'other.example.com': { auth: Buffer.from('someone:their-own-password').toString('base64') } },
  psFormat: 'table {{.ID}}\t{{.Names}}',
  proxies: { default: { noProxy: '127.0.0.1' } },
};

export interface LabJob extends JobContext {
  dockerConfig: string;
}

/** A fresh job with its own DOCKER_CONFIG (0700) holding FOREIGN_CONFIG (0600). */
export function labJob(env: Record<string, string> = {}, config: object | undefined = FOREIGN_CONFIG): LabJob {
  const job = newJob(env);
  const dockerConfig = join(job.cwd, 'docker-config');
  job.env.DOCKER_CONFIG = dockerConfig;
  mkdirSync(dockerConfig, { mode: 0o700 });
  if (config !== undefined) writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
  return { ...job, dockerConfig };
}

/** Foreign entries and settings missing or changed in the job's config.json (0 when all kept). */
export function entriesLost(job: LabJob, expected: Record<string, unknown> = FOREIGN_CONFIG): string[] {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(join(job.dockerConfig, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return ['config.json (unreadable)'];
  }
  const lost: string[] = [];
  for (const [key, value] of Object.entries(expected)) {
    if (key === 'auths') {
      const auths = (config.auths ?? {}) as Record<string, unknown>;
      for (const [host, entry] of Object.entries(value as Record<string, unknown>)) {
        if (JSON.stringify(auths[host]) !== JSON.stringify(entry)) lost.push(`auths.${host}`);
      }
    } else if (JSON.stringify(config[key]) !== JSON.stringify(value)) {
      lost.push(key);
    }
  }
  return lost;
}

/** The step's output as one line per failure: every non-empty stderr line. */
export function stderrLines(result: CommandResult): string[] {
  return result.stderr.split('\n').filter((line) => line.trim() !== '');
}
