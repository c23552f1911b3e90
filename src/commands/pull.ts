import type { CommandMain } from '../core/cli.ts';
import { UserError } from '../core/errors.ts';
import type { Env } from '../inputs/common.ts';
import { readPullInputs } from '../inputs/pull.ts';
import type { Reporter } from '../core/output.ts';
import { runProcess, type RunProcess } from '../core/process.ts';
import { isDockerHub, type ImageReference } from '../registry/reference.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { composeImages } from '../pull/compose.ts';
import { registerDockerCredentials } from '../pull/credentials.ts';
import { pullDocker, terminalAvailable } from '../pull/docker.ts';
import { nodeFetch, type Fetch } from '../pull/http.ts';
import { ProgressBoard, progressTimingFor, realProgressClock, type ProgressClock, type ProgressTiming } from '../pull/progress-board.ts';
import { budgetWarning, readDockerHubBudget, readDockerHubBudgetReading } from '../pull/ratelimit.ts';
import { runPulls } from '../pull/run.ts';
import { stallDeadlineMs } from '../pull/stall.ts';
import { failureSummary, summaryTable } from '../pull/summary.ts';
import { registryWaitProbe } from '../pull/wait-probe.ts';

/**
 * regauth/pull: parse → credentials → compose → present → budget → pull → summary. Exits
 * (through runCommand, the only catch) 0 when every image was pulled, 1 naming every one that
 * was not, 2 on bad input.
 */
export interface PullMainDeps {
  runProcess?: RunProcess;
  fetch?: Fetch;
  retry?: RetryDeps;
  now?: () => number;
  /** Progress lines and the stall watchdog read time from here. */
  clock?: ProgressClock;
  progressTiming?: ProgressTiming;
  /** Where relative compose files are looked up; default the working directory. */
  cwd?: string;
}

export const main = (async (env: Env, reporter: Reporter, deps: PullMainDeps = {}): Promise<number> => {
  const inputs = readPullInputs(env);
  const run = deps.runProcess ?? runProcess;
  const childEnv = { ...env };
  const now = deps.now ?? Date.now;
  const started = now();
  const images = await withComposeImages(inputs.images, inputs.composeFiles, { run, env: childEnv, cwd: deps.cwd ?? process.cwd() }, (line) => reporter.line(line));
  // Before docker pulls: a registry may quote back what docker sent it.
  const domains = [...new Set([...images.map((ref) => ref.domain), ...(inputs.mirror === undefined ? [] : [inputs.mirror.split('/')[0] ?? ''])])];
  await registerDockerCredentials(env, reporter.redactor, { run, env: childEnv, domains });

  const fetch = deps.fetch ?? nodeFetch;
  const budget = () => readDockerHubBudget({ env, fetch, redactor: reporter.redactor });
  const hubImages = images.some(isDockerHub);

  const clock = deps.clock ?? realProgressClock;
  const terminal = await terminalAvailable(run, childEnv);
  const watchdog = { clock, terminal, stallMs: stallDeadlineMs(env, terminal) };
  const outcomes = await runPulls(
    { ...inputs, images },
    {
      docker: pullDocker(run, childEnv, watchdog),
      now,
      retry: deps.retry ?? realRetryDeps,
      report: (line) => reporter.line(line),
      probeWait: registryWaitProbe({ env, fetch, redactor: reporter.redactor, now }),
      progress: new ProgressBoard(clock, (line) => reporter.line(line), deps.progressTiming ?? progressTimingFor(inputs.noOutputTimeoutMs)),
      async beforePulls(toPull) {
        const hubPulls = toPull.filter(isDockerHub).length;
        if (hubPulls === 0 || inputs.mirror !== undefined) return;
        const reading = await readDockerHubBudgetReading({ env, fetch, redactor: reporter.redactor });
        reporter.line(`regauth: ${reading.line}`);
        // One pull per image: each docker pull fetches one architecture.
        const warning = budgetWarning(reading.remaining, hubPulls);
        if (warning !== undefined) reporter.line(`regauth: ${warning}`);
      },
    },
  );

  for (const line of summaryTable(outcomes, (now() - started) / 1000)) reporter.line(line);
  const failed = failureSummary(outcomes);
  if (failed === undefined) return 0;
  // After a rate limit the budget explains it; worth a second look even with a mirror.
  if (hubImages && outcomes.some((o) => !o.ok && o.category === 'rate-limit')) reporter.line(`regauth: ${await budget()}`);
  throw new UserError(failed);
}) satisfies CommandMain;

/** `images`, then what the compose files name that `images` does not. */
async function withComposeImages(images: ImageReference[], files: string[], deps: Parameters<typeof composeImages>[1], report: (line: string) => void): Promise<ImageReference[]> {
  if (files.length === 0) return images;
  const fromCompose = await composeImages(files, deps);
  if (fromCompose.built.length + fromCompose.builtUnnamed > 0) {
    const unnamed = fromCompose.builtUnnamed > 0 ? `${fromCompose.built.length > 0 ? ' and ' : ''}${fromCompose.builtUnnamed} not named in the files (not shown)` : '';
    report(`regauth: compose_files: not pulled, compose builds them: ${fromCompose.built.join(', ')}${unnamed}`);
  }
  const seen = new Set(images.map((ref) => ref.normalized));
  const added = fromCompose.images.filter((ref) => !seen.has(ref.normalized));
  if (images.length === 0 && added.length === 0) throw new UserError(`compose_files: ${files.join(', ')} name no images, and images is empty: nothing to pull`, 2);
  return [...images, ...added];
}
