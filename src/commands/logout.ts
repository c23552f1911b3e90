import type { CommandMain } from '../core/cli.ts';
import { assertDockerAvailable, dockerLogout } from '../docker/login.ts';
import { dockerConfigDir } from '../docker/config.ts';
import { parseLogoutInputs } from '../inputs/logout.ts';
import { runProcess } from '../core/process.ts';
import { removeHelper } from '../refresh/teardown.ts';

/** regauth/logout: leaves no credential regauth wrote behind. */
export const main: CommandMain = async (env, reporter) => {
  const { targets } = parseLogoutInputs(env);
  // docker logout first, while the helper still answers its `erase`; then the helper's entries
  // go (the user's own helper entry comes back) with its files.
  const report = await dockerLogout({ run: runProcess, env }, targets).catch(assertDockerAvailable);
  const helper = await removeHelper(env, runProcess, targets?.map((target) => target.configKey));
  for (const host of helper.hosts) reporter.line(`regauth: ${host} is no longer served by docker-credential-regauth`);
  for (const path of helper.removed) reporter.line(`regauth: removed ${path}`);
  for (const path of helper.kept) reporter.line(`regauth: kept ${path}`);
  if (helper.bashEnvLines.length > 0) reporter.line(`regauth: $BASH_ENV now unsets what regauth exported (${helper.bashEnvLines.map((line) => line.split(';')[0]).join('; ')})`);
  for (const note of report.ignored) reporter.line(`regauth: ignored ${note}`);
  if (report.loggedOut.length === 0 && report.removedFiles.length === 0 && helper.hosts.length === 0 && helper.removed.length === 0) {
    reporter.line(`regauth: nothing to log out of (no regauth login recorded in ${dockerConfigDir(env)})`);
    return 0;
  }
  for (const key of report.loggedOut) reporter.line(`regauth: logged out of ${key}`);
  for (const file of report.removedFiles) reporter.line(`regauth: removed ${file}`);
  return 0;
};
