import { expandedValuesToHide, withoutExpandedValues } from './env.ts';
import { InputError, UserError } from './errors.ts';
import { debugRequested, Reporter } from './output.ts';
import { RetriesExhausted } from './retry.ts';
import { headerLine } from './version.ts';

/** What every command entry point is: environment in, exit code out, lines through the reporter. */
export type CommandMain = (env: NodeJS.ProcessEnv, reporter: Reporter) => Promise<number>;

/**
 * The only catch: any failure becomes one redacted line and a non-zero exit. Unexpected errors
 * keep their message (redacted) so a bug report has something to go on, but never a stack with
 * values in it.
 */
export async function runCommand(name: string, main: CommandMain, env: NodeJS.ProcessEnv = process.env, reporter = new Reporter()): Promise<number> {
  reporter.verbose = debugRequested(env);
  for (const { value, shownAs } of expandedValuesToHide(env)) reporter.showAs(value, shownAs);
  reporter.line(headerLine(name));
  try {
    return await main(env, reporter);
  } catch (error) {
    const cause = error instanceof RetriesExhausted ? error.last : error;
    if (cause instanceof InputError) {
      const safe = withoutExpandedValues(cause, env);
      reporter.failure(`${name}: ${safe.message}`);
      return safe.exitCode;
    }
    if (error instanceof UserError) {
      reporter.failure(`${name}: ${error.message}`);
      return error.exitCode;
    }
    if (cause instanceof UserError) {
      reporter.failure(`${name}: ${cause.message}`);
      return cause.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    reporter.failure(`${name}: unexpected error: ${message} (please report it with the step's output)`);
    return 1;
  }
}
