/**
 * Runs `task` over `items` with at most `limit` in flight; results keep the items' order.
 * A task may call `release()` to give its slot to the next item before it ends (a pull that has
 * downloaded everything and only unpacks no longer uses the network). If a task throws, no new
 * task starts and the first error is thrown once the running ones end.
 */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, task: (item: T, index: number, release: () => void) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive whole number, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let holding = 0;
  let unsettled = 0;
  let failure: { error: unknown } | undefined;
  return new Promise<R[]>((resolve, reject) => {
    const settleIfDone = (): void => {
      if (unsettled > 0 || (failure === undefined && next < items.length)) return;
      if (failure !== undefined) reject(failure.error);
      else resolve(results);
    };
    const launch = (): void => {
      while (failure === undefined && holding < limit && next < items.length) {
        const index = next++;
        holding += 1;
        unsettled += 1;
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          holding -= 1;
          launch();
        };
        Promise.resolve()
          .then(() => task(items[index] as T, index, release))
          .then(
            (value) => {
              results[index] = value;
            },
            (error: unknown) => {
              failure ??= { error };
            },
          )
          .finally(() => {
            unsettled -= 1;
            release();
            settleIfDone();
          });
      }
    };
    launch();
    settleIfDone();
  });
}
