/**
 * Pulls start in the plan's order as the engine sees it. The engine downloads layers in the order
 * they were queued, 3 at a time for all pulls together; pulls started at the same moment queue
 * theirs in whatever order their manifests come back, so the biggest download, planned first, could
 * land behind the small ones. A pull with a big layer therefore makes the pulls started after it
 * wait until its layers are queued (docker names them), it has ended, or `deadlineMs` has passed.
 * Small images start together as before: for them the wait would cost more than the order gains.
 */

/** How long a pull waits for the one started before it to have its layers queued by the engine. */
export const TURN_DEADLINE_MS = 1000;

/**
 * A pull's place in line. `queuesFirst`: later pulls wait until this one's layers are queued (a
 * pull with a big layer, whose place in the engine's queue decides when the whole step ends); a
 * pull with small layers only waits for those before it. Call `queued` once its layers are named
 * (or it ended); calling again is harmless.
 */
export type TakeTurn = (queuesFirst: boolean) => Promise<{ queued: () => void }>;

export function inTurn(deadlineMs: number = TURN_DEADLINE_MS): TakeTurn {
  let previous: Promise<void> = Promise.resolve();
  return async (queuesFirst) => {
    let queued!: () => void;
    const mine = new Promise<void>((resolve) => {
      queued = resolve;
    });
    const before = previous;
    if (queuesFirst) previous = mine;
    await firstOf(before, deadlineMs);
    return { queued };
  };
}

/** `promise`, or `ms` later, whichever comes first; the timer never outlives it. */
async function firstOf(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
