import { promises as fs } from 'node:fs';
import { jobId, readJournal, record } from '../core/journal.ts';
import { ownedByUs } from '../core/private-files.ts';
import { dockerConfigDir, readDockerConfig, withConfigLock, writeDockerConfig } from '../docker/config.ts';
import type { Env } from '../core/env.ts';
import { fenceOff, removeFenced } from './fence.ts';
import { layout, readOwned, writeAtomic } from './files.ts';

/**
 * The helper serves and renews only for the CircleCI job that logged in. On a persistent machine
 * (a self-hosted or machine runner) a job that ended without regauth/logout leaves the helper in
 * docker's config; the next job, of any project, would otherwise get its cached passwords and
 * have its own job token exchanged for the first job's role under the first job's session name.
 *
 * A job is named as the journal names it (`jobId`: CircleCI's workflow job id, unique per job
 * run, else the build number), from variables CircleCI sets in every step's environment, which
 * docker hands to the helper. The bash helper (helper-script.ts) derives it the same way.
 */
export function jobIdentity(env: Env): string {
  return jobId(env);
}

/** Whether the helper directory `dir` was set up by the job `env` belongs to. */
export async function isLoginsJob(dir: string, env: Env): Promise<boolean> {
  return (await readOwned(layout(dir).job)) === `${jobIdentity(env)}\n`;
}

/** At login, once the directory is regauth's own: it belongs to this job from now on. */
export async function bindToJob(dir: string, env: Env): Promise<void> {
  await writeAtomic(layout(dir).job, `${jobIdentity(env)}\n`);
}

/**
 * At login: a helper directory another job left behind (no logout) goes whole (cache, recipes,
 * routes), after its refreshes are fenced off, and so do the `credHelpers` entries naming regauth
 * in this job's docker config. Each entry gets back the value the journal says it had before
 * regauth, and otherwise goes, on record first. Returns whether there was anything to discard.
 */
export async function discardOtherJobs(env: Env, dir: string): Promise<boolean> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  // Missing: nothing to discard; not a directory of ours: the login's own checks refuse it.
  if (!stat?.isDirectory() || !ownedByUs(stat) || (await isLoginsJob(dir, env))) return false;
  const configDir = dockerConfigDir(env);
  const { entries } = await readJournal(env);
  await withConfigLock(configDir, async () => {
    const config = await readDockerConfig(configDir);
    const helpers = { ...config.credHelpers };
    const leftovers = Object.keys(helpers).filter((host) => helpers[host] === 'regauth');
    if (leftovers.length === 0) return;
    for (const host of leftovers) {
      const known = entries.find((entry) => entry.kind === 'cred-helper' && entry.configDir === configDir && entry.key === host);
      const previous = known?.kind === 'cred-helper' ? known.previous : undefined;
      // On record before the change: this job's logout then removes whatever regauth sets there later.
      await record(env, { kind: 'cred-helper', configDir, key: host, value: 'regauth' });
      if (previous !== undefined && previous !== '') helpers[host] = previous;
      else delete helpers[host];
    }
    config.credHelpers = helpers;
    if (Object.keys(helpers).length === 0) delete config.credHelpers;
    await writeDockerConfig(configDir, config);
  });
  await fenceOff(dir);
  await removeFenced(dir);
  return true;
}
