/**
 * How regauth writes quantities, in every command (pure): sizes in decimal units as docker
 * prints them, always with a space before the unit (`31.8 MB`); durations in seconds with one
 * decimal (`1.2 s`); instants as a wall-clock time in UTC (`08:39:57 UTC`), the form a person
 * compares with the step's own timestamps.
 */

/** `12.3 MB`: decimal units (B, kB, MB, GB, TB), a space before the unit. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 'B';
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${unit}`;
}

/** `1.5 s`: every duration and wait. */
export function formatDuration(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `08:39:57 UTC`: when something expires or happened. */
export function clockTime(date: Date): string {
  return `${date.toISOString().slice(11, 19)} UTC`;
}

/** `8.4 MB/s`: an effective rate; undefined when the time is too short to mean anything. */
export function formatRate(bytes: number, ms: number): string | undefined {
  if (ms < 1) return undefined;
  return `${formatBytes((bytes * 1000) / ms)}/s`;
}
