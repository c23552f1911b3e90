import type { CommandMain } from '../core/cli.ts';
import { UserError } from '../core/errors.ts';
import type { Env } from '../core/env.ts';
import { readPullInputs } from '../inputs/pull.ts';
import type { Reporter } from '../core/output.ts';
import { runProcess, type RunProcess } from '../core/process.ts';
import { isDockerHub, type ImageReference } from '../registry/reference.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { composeImages } from '../pull/compose.ts';
import { registerDockerCredentials } from '../pull/credentials.ts';
import { heldManifestDigests, pullDocker, terminalAvailable } from '../pull/docker-pull.ts';
import { readImageLayers, type ManifestReadOptions } from '../pull/manifests.ts';
import { planPulls, presentLayersOf, type PullSchedule } from '../pull/plan.ts';
import { nodeFetch, type Fetch } from '../pull/http.ts';
import { ProgressBoard, progressTimingFor, realProgressClock, type ProgressClock, type ProgressTiming } from '../pull/progress-board.ts';
import { budgetWarning, readDockerHubBudget, readDockerHubBudgetReading } from '../pull/ratelimit.ts';
import { runPulls } from '../pull/run.ts';
import { stallDeadlineMs } from '../pull/stall.ts';
import { failureSummary, planLine, summaryTable, transferLine } from '../pull/summary.ts';
import { registryWaitProbe } from '../pull/wait-probe.ts';

/**
 * regauth/pull: parse → compose → credentials (+ plan, terminal check) → present → budget → pull
 * in the planned order → summary. Exits (through runCommand, the only catch) 0 when every image
 * was pulled, 1 naming every one that was not, 2 on bad input.
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
  /** How long the pull plan may read manifests (manifests.ts PLAN_DEADLINE_MS). */
  planDeadlineMs?: number;
}

export const main = (async (env: Env, reporter: Reporter, deps: PullMainDeps = {}): Promise<number> => {
  const inputs = readPullInputs(env);
  const run = deps.runProcess ?? runProcess;
  const childEnv = { ...env };
  const now = deps.now ?? Date.now;
  const started = now();
  // Where the step's own time goes, for REGAUTH_DEBUG=1 (issue: fixed overhead).
  const mark = (what: string): void => reporter.detail(`regauth: timing: ${what} at ${now() - started} ms`);
  const images = await withComposeImages(inputs.images, inputs.composeFiles, { run, env: childEnv, cwd: deps.cwd ?? process.cwd() }, (line) => reporter.line(line));
  // Before docker pulls: a registry may quote back what docker sent it.
  const domains = [...new Set([...images.map((ref) => ref.domain), ...(inputs.mirror === undefined ? [] : [inputs.mirror.split('/')[0] ?? ''])])];
  const fetch = deps.fetch ?? nodeFetch;
  // Independent look-ups, side by side: each is a process start or a few requests. The plan
  // (manifest reads, see plan.ts) starts as soon as the credentials are known, so its round
  // trips overlap the terminal check and the present-digest checks.
  // No plan, so nothing is read, when every pull starts at once anyway (no more images than
  // `concurrency`: the order they start in is then a matter of milliseconds), or for Docker Hub.
  const planned = images.length > inputs.concurrency && !images.some(isDockerHub);
  const held = planned ? heldManifestDigests(run, childEnv) : undefined;
  const credentialsRead = registerDockerCredentials(env, reporter.redactor, { run, env: childEnv, domains });
  const planReady =
    held === undefined
      ? undefined
      : credentialsRead
          .then((credentials) => readPlan(images, { fetch, redactor: reporter.redactor, credentials: credentials.byDomain, platform: inputs.platform, ...(deps.planDeadlineMs === undefined ? {} : { deadlineMs: deps.planDeadlineMs }) }, held))
          // Never fail a pull for its plan: the given order then.
          .catch(() => planPulls(images.map(() => ({ known: false as const, reason: 'the plan could not be made' }))));
  const [, terminal] = await Promise.all([credentialsRead, terminalAvailable(run, childEnv)]);
  const budget = () => readDockerHubBudget({ env, fetch, redactor: reporter.redactor });
  const hubImages = images.some(isDockerHub);

  mark('credentials and terminal check done');
  const clock = deps.clock ?? realProgressClock;
  const watchdog = { clock, terminal, stallMs: stallDeadlineMs(env, terminal) };
  const layerBytes = new Map<string, number>();
  let plannedBytes: number | undefined;
  const outcomes = await runPulls(
    { ...inputs, images },
    {
      docker: pullDocker(run, childEnv, watchdog),
      now,
      retry: deps.retry ?? realRetryDeps,
      report: (line) => reporter.line(line),
      probeWait: registryWaitProbe({ env, fetch, redactor: reporter.redactor, now }),
      progress: new ProgressBoard(clock, (line) => reporter.line(line), deps.progressTiming ?? progressTimingFor(inputs.noOutputTimeoutMs)),
      layerBytes,
      async schedule(toPull) {
        if (planReady === undefined) {
          reporter.detail('regauth: pulling in the order given (no plan: every pull starts at once, or a Docker Hub image, whose manifest reads count as pulls)');
          return { order: toPull.map((_, index) => index) };
        }
        const plan = await planReady;
        mark('manifests read');
        plannedBytes = plan.bytes;
        // No plan means today's behaviour: worth a line only to someone who asked for detail.
        const line = planLine({ ...plan, reordered: plan.order.some((at, index) => at !== index) });
        if (plan.planned) reporter.line(line);
        else reporter.detail(line);
        // The plan covers every image; the pulls are those not already present.
        const rank = new Map(plan.order.map((imageIndex, position) => [images[imageIndex]?.normalized, position]));
        const first = new Set(images.filter((_, index) => plan.queuesFirst[index]).map((ref) => ref.normalized));
        return {
          order: toPull.map((ref, index) => ({ index, at: rank.get(ref.normalized) ?? index })).sort((a, b) => a.at - b.at).map(({ index }) => index),
          queuesFirst: toPull.map((ref) => first.has(ref.normalized)),
        };
      },
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

  mark('pulls and sizes done');
  const wallMs = now() - started;
  for (const line of summaryTable(outcomes, wallMs / 1000)) reporter.line(line);
  const fromDocker = [...layerBytes.values()].reduce((sum, bytes) => sum + bytes, 0);
  const downloaded = layerBytes.size > 0 ? { bytes: fromDocker, from: 'docker' as const } : plannedBytes === undefined ? undefined : { bytes: plannedBytes, from: 'manifests' as const };
  reporter.line(transferLine(outcomes, wallMs, downloaded));
  const failed = failureSummary(outcomes);
  if (failed === undefined) return 0;
  // After a rate limit the budget explains it; worth a second look even with a mirror.
  if (hubImages && outcomes.some((o) => !o.ok && o.category === 'rate-limit')) reporter.line(`regauth: ${await budget()}`);
  throw new UserError(failed);
}) satisfies CommandMain;

/**
 * The plan from every image's manifest. The engine's held digests are used only if docker has
 * answered by the time the manifests are read: on a cold engine they change nothing, and a
 * docker call must not hold up the pulls.
 */
async function readPlan(images: readonly ImageReference[], options: ManifestReadOptions, held: Promise<Set<string>>): Promise<PullSchedule> {
  let heldNow = new Set<string>();
  void held.then((digests) => {
    heldNow = digests;
  });
  const layers = await readImageLayers(images, options);
  return planPulls(layers, presentLayersOf(layers, heldNow));
}

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
