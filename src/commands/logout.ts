import type { CommandMain } from '../core/cli.ts';
import { assertDockerAvailable, dockerLogout } from '../docker/login.ts';
import { dockerConfigDir } from '../docker/config.ts';
import { parseLogoutInputs } from '../inputs/logout.ts';
import { runProcess } from '../core/process.ts';

/** regauth/logout: leaves no credential regauth wrote behind. */
export const main: CommandMain = async (env, reporter) => {
  const { targets } = parseLogoutInputs(env);
  const report = await dockerLogout({ run: runProcess, env }, targets).catch(assertDockerAvailable);
  for (const note of report.ignored) reporter.line(`regauth: ignored ${note}`);
  if (report.loggedOut.length === 0 && report.removedFiles.length === 0) {
    reporter.line(`regauth: nothing to log out of (no regauth login recorded in ${dockerConfigDir(env)})`);
    return 0;
  }
  for (const key of report.loggedOut) reporter.line(`regauth: logged out of ${key}`);
  for (const file of report.removedFiles) reporter.line(`regauth: removed ${file}`);
  return 0;
};
