import type { CommandMain } from '../core/cli.ts';
import { UserError } from '../core/errors.ts';
import type { Env } from '../inputs/common.ts';
import { readPullInputs } from '../inputs/pull.ts';
import type { Reporter } from '../core/output.ts';
import { runProcess, type RunProcess } from '../core/process.ts';
import { isDockerHub } from '../registry/reference.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { pullDocker } from '../pull/docker.ts';
import { nodeFetch, type Fetch } from '../pull/http.ts';
import { readDockerHubBudget } from '../pull/ratelimit.ts';
import { runPulls } from '../pull/run.ts';
import { failureSummary, summaryTable } from '../pull/summary.ts';
import { registryWaitProbe } from '../pull/wait-probe.ts';

/**
 * regauth/pull: parse → budget → pull → summary. Exits (through runCommand, the only catch)
 * 0 when every image was pulled, 1 naming every one that was not, 2 on bad input.
 */
export interface PullMainDeps {
  runProcess?: RunProcess;
  fetch?: Fetch;
  retry?: RetryDeps;
  now?: () => number;
}

export const main = (async (env: Env, reporter: Reporter, deps: PullMainDeps = {}): Promise<number> => {
  const inputs = readPullInputs(env);
  const fetch = deps.fetch ?? nodeFetch;
  const budget = () => readDockerHubBudget({ env, fetch, redactor: reporter.redactor });
  const hubImages = inputs.images.some(isDockerHub);
  if (hubImages && inputs.mirror === undefined) reporter.line(await budget());

  const now = deps.now ?? Date.now;
  const outcomes = await runPulls(inputs, {
    docker: pullDocker(deps.runProcess ?? runProcess, { ...env }),
    now,
    retry: deps.retry ?? realRetryDeps,
    report: (line) => reporter.line(line),
    probeWait: registryWaitProbe({ env, fetch, redactor: reporter.redactor, now }),
  });

  for (const line of summaryTable(outcomes)) reporter.line(line);
  const failed = failureSummary(outcomes);
  if (failed === undefined) return 0;
  // After a rate limit the budget explains it; worth a second look even with a mirror.
  if (hubImages && outcomes.some((o) => !o.ok && o.category === 'rate-limit')) reporter.line(await budget());
  throw new UserError(failed);
}) satisfies CommandMain;
