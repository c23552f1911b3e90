import type { CommandMain } from '../core/cli.ts';
import type { Reporter } from '../core/output.ts';
import { isInside } from '../core/private-files.ts';
import { parseLogoutInputs } from '../inputs/logout.ts';
import { runProcess } from '../core/process.ts';
import { remove, type Undone } from '../refresh/index.ts';

/** regauth/logout: undoes what the journal says regauth changed, backwards, and says so in words. */
export const main: CommandMain = async (env, reporter) => {
  const { targets } = parseLogoutInputs(env);
  const done = await remove(env, runProcess, targets);
  report(done, reporter);
  if (done.failed.length > 0) return 1;
  return 0;
};

function report(done: Undone, reporter: Reporter): void {
  for (const why of done.ignored) reporter.line(`regauth: ignored ${why}`);
  for (const host of done.loggedOut) reporter.line(`regauth: logged out of ${host}`);
  for (const host of done.helperHosts) reporter.line(`regauth: ${host} is no longer served by docker-credential-regauth`);
  for (const entry of done.restoredHelper) reporter.line(`regauth: gave back the job's own credential helper for ${entry}`);
  for (const key of done.restoredAuth) reporter.line(`regauth: gave back the job's own docker login for ${key}`);
  for (const profile of done.profiles) {
    const said = {
      removed: `removed AWS profile ${profile.name} from ${profile.file}`,
      restored: `removed regauth's AWS profile ${profile.name} from ${profile.file} and gave back the job's own profile of that name`,
      absent: `AWS profile ${profile.name} is no longer in ${profile.file}; nothing to remove`,
      'not-ours': `AWS profile ${profile.name} in ${profile.file} was rewritten since regauth wrote it; left alone`,
    }[profile.outcome];
    reporter.line(`regauth: ${said ?? profile.outcome}`);
  }
  // A file inside a directory that went too is said once, as the directory.
  const removed = done.removed.filter((path) => !done.removed.some((other) => isInside(other, path)));
  for (const path of removed) reporter.line(`regauth: removed ${path}`);
  for (const path of done.kept) reporter.line(`regauth: kept ${path}`);
  const gone = done.variables.filter((v) => !v.restored).map((v) => v.name);
  const back = done.variables.filter((v) => v.restored).map((v) => v.name);
  const words: string[] = [];
  if (gone.length > 0) words.push(`later steps no longer get ${gone.join(', ')}`);
  if (back.length > 0) words.push(`${back.join(', ')} ${back.length === 1 ? 'is' : 'are'} back to ${back.length === 1 ? 'its' : 'their'} value from before regauth`);
  if (done.pathRemoved.length > 0) words.push(`PATH no longer has ${done.pathRemoved.join(', ')}`);
  if (words.length > 0) reporter.line(`regauth: through $BASH_ENV: ${words.join('; ')}`);
  for (const host of done.nothingFor) reporter.line(`regauth: nothing to remove for ${host}: regauth has no record of a login to it in this job`);
  for (const failure of done.failed) reporter.line(`regauth: could not undo ${failure}; it stays on record for the next logout`);
  const acted = done.loggedOut.length + done.helperHosts.length + done.removed.length + done.variables.length + done.profiles.length + done.restoredAuth.length + done.pathRemoved.length;
  if (acted === 0 && done.nothingFor.length === 0 && done.failed.length === 0) reporter.line('regauth: nothing to log out of (regauth has no record of a change in this job)');
}
