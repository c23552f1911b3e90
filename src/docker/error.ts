import { remote } from '../core/output.ts';

/**
 * A docker CLI command that exited non-zero, shared by every command's docker calls. Its
 * arguments hold hosts, user names and image names only: secrets go to docker on stdin.
 */
export class DockerCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number,
    /** stderr then stdout, as docker wrote them. */
    readonly output: string,
  ) {
    super(`docker ${args.join(' ')} exited with ${exitCode}: ${remote(dockerErrorLine(output))}`);
    this.name = 'DockerCommandError';
  }
}

/**
 * The line of docker's output that says what went wrong, without docker's prefixes. Whole:
 * it is remote text, cut only by the Reporter after redaction (wrap it in remote()).
 */
export function dockerErrorLine(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^WARNING!|^Configure a credential helper|^https:\/\/docs\.docker\.com/.test(line));
  // docker's own log lines (time="…" level=info msg=…) narrate retries; the verdict comes after them.
  // Usage hints ("See 'docker login --help'.") follow the error they explain.
  const verdicts = lines.filter((line) => !/^time="[^"]*" level=/.test(line) && !/^(See|Run) '?docker .*--help/.test(line));
  const errorLine = [...verdicts].reverse().find((line) => /error|denied|unauthorized|not found|toomanyrequests|refused|timeout|EOF/i.test(line));
  return (errorLine ?? verdicts.at(-1) ?? lines.at(-1) ?? 'no output').replace(/^Error response from daemon:\s*/i, '').replace(/^Error:\s*/, '');
}
