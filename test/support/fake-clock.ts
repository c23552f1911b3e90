import type { ProgressClock } from '../../src/pull/progress-board.ts';

export interface FakeClock extends ProgressClock {
  /** Moves time forward, running every `every` tick that falls due on the way, in order. */
  advance(ms: number): void;
  /** Timers still registered (a stopped watcher must have removed its own). */
  readonly timers: number;
}

/** A clock the test moves: no real time passes, so progress and stall tests depend on no timing. */
export function fakeClock(): FakeClock {
  let now = 0;
  const timers = new Set<{ ms: number; next: number; tick: () => void }>();
  return {
    now: () => now,
    every(ms, tick) {
      const timer = { ms, next: now + ms, tick };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (due === undefined) break;
        now = due.next;
        due.next += due.ms;
        due.tick();
      }
      now = end;
    },
    get timers() {
      return timers.size;
    },
  };
}
