/**
 * How long a docker pull may go without progress before regauth ends that attempt and counts
 * it as a transient failure. On a terminal docker prints as bytes arrive, so a minute of
 * silence is a stalled transfer; without one docker is silent while any layer downloads, so
 * only a long silence says the same.
 */
export const STALL_DEADLINE_MS = { terminal: 60_000, plain: 600_000 } as const;

/** Test and support override, in whole seconds (1–3600); anything else is ignored. Pure. */
export const STALL_OVERRIDE_ENV = 'REGAUTH_PULL_STALL_SECONDS';

export function stallDeadlineMs(env: Readonly<Record<string, string | undefined>>, terminal: boolean): number {
  const override = env[STALL_OVERRIDE_ENV]?.trim();
  if (override !== undefined && /^\d{1,4}$/.test(override)) {
    const seconds = Number(override);
    if (seconds >= 1 && seconds <= 3600) return seconds * 1000;
  }
  return terminal ? STALL_DEADLINE_MS.terminal : STALL_DEADLINE_MS.plain;
}

/** A docker pull that printed nothing and moved no byte for `stallMs`: regauth ended it. */
export class PullStalled extends Error {
  constructor(
    readonly reference: string,
    readonly stallMs: number,
  ) {
    super(`docker pull made no progress for ${Math.round(stallMs / 1000)} s (no bytes, no output), so regauth ended it`);
    this.name = 'PullStalled';
  }
}
