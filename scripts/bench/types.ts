/** What every bench module exports: a named run that prints as it goes and returns its verdict. */
export interface BenchResult {
  name: string;
  /** One line against the bench's goal, printed again in the runner's closing summary. */
  verdict: string;
  /** False when the goal was missed; the runner then exits non-zero. */
  met: boolean;
}

export interface Bench {
  /** Selects the bench on the command line: `npm run bench -- pull`. */
  name: string;
  run: () => Promise<BenchResult>;
}
