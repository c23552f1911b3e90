import { describeSnapshot, type PullSnapshot } from './progress.ts';

/**
 * Progress lines while pulls run, so a long pull never looks hung and CircleCI's
 * no_output_timeout never ends a step that is still downloading. Each image still pulling gets a
 * line when what it says changed (at most every `changedGapMs`) and, unchanged, every
 * `heartbeatMs`. Time comes from the injected clock, so tests need no real time.
 */
export interface ProgressClock {
  now(): number;
  /** Calls `tick` every `ms` until the returned function is called. */
  every(ms: number, tick: () => void): () => void;
}

export const realProgressClock: ProgressClock = {
  now: () => Date.now(),
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

export interface ProgressTiming {
  /** How often the board looks; bounds how late a heartbeat can be. */
  tickMs: number;
  /** A line that says something new, at most this often per image. */
  changedGapMs: number;
  /** A line that says nothing new, exactly this often per image (no more, no less). */
  heartbeatMs: number;
}

export const PROGRESS_TIMING: ProgressTiming = { tickMs: 500, changedGapMs: 10_000, heartbeatMs: 20_000 };

/**
 * The timing for a step whose no_output_timeout is `noOutputTimeoutMs`: the usual one, unless
 * CircleCI would end the step before a heartbeat could be printed (with a margin); then a line
 * at least every half of it. Pure.
 */
export const HEARTBEAT_MARGIN_MS = 5000;

export function progressTimingFor(noOutputTimeoutMs: number): ProgressTiming {
  if (noOutputTimeoutMs >= PROGRESS_TIMING.heartbeatMs + HEARTBEAT_MARGIN_MS) return PROGRESS_TIMING;
  const heartbeatMs = Math.max(1000, Math.floor(noOutputTimeoutMs / 2));
  return { tickMs: Math.min(PROGRESS_TIMING.tickMs, Math.floor(heartbeatMs / 4)), changedGapMs: Math.min(PROGRESS_TIMING.changedGapMs, heartbeatMs), heartbeatMs };
}

interface Entry {
  image: string;
  started: number;
  snapshot: PullSnapshot | undefined;
  lastText: string | undefined;
  lastAt: number;
}

export interface PullTracker {
  update(snapshot: PullSnapshot): void;
  finish(): void;
}

export class ProgressBoard {
  private readonly entries = new Set<Entry>();

  constructor(
    private readonly clock: ProgressClock,
    private readonly report: (line: string) => void,
    private readonly timing: ProgressTiming = PROGRESS_TIMING,
  ) {}

  /** An image starts pulling (its first attempt); `finish` when it is done, however it ended. */
  track(image: string): PullTracker {
    const now = this.clock.now();
    const entry: Entry = { image, started: now, snapshot: undefined, lastText: undefined, lastAt: now };
    this.entries.add(entry);
    return {
      update: (snapshot) => {
        entry.snapshot = snapshot;
      },
      finish: () => {
        this.entries.delete(entry);
      },
    };
  }

  /** Starts looking every tick; returns the stop function. */
  start(): () => void {
    return this.clock.every(this.timing.tickMs, () => this.tick());
  }

  tick(): void {
    const now = this.clock.now();
    for (const entry of this.entries) {
      const text = entry.snapshot === undefined ? 'contacting the registry' : describeSnapshot(entry.snapshot);
      const since = now - entry.lastAt;
      const changed = text !== entry.lastText;
      if (since < (changed ? this.timing.changedGapMs : this.timing.heartbeatMs)) continue;
      entry.lastText = text;
      entry.lastAt = now;
      this.report(`⋯ ${entry.image}: ${text} (${Math.round((now - entry.started) / 1000)} s)`);
    }
  }
}
