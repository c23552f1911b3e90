import { remote } from '../core/output.ts';
import type { PullCategory, PullVerdict } from './classify.ts';
import { formatBytes, formatDuration, formatRate } from '../core/units.ts';

/** What became of one image. Pure data, printed by the functions below. */
export type PullSource = 'registry' | 'mirror' | 'fallback' | 'present';

interface OutcomeBase {
  /** The normalised reference the user asked for. */
  image: string;
  seconds: number;
  /** Every docker pull run for this image, mirror attempts included. */
  attempts: number;
}

export interface PullSuccess extends OutcomeBase {
  ok: true;
  digest: string | undefined;
  /**
   * registry: pulled as asked; mirror: served by the mirror; fallback: the mirror failed, Docker
   * Hub served; present: pinned by digest and already held, so not pulled at all.
   */
  source: PullSource;
  note: string | undefined;
  /** The image's size as the engine reports it; undefined when it could not say. */
  sizeBytes?: number | undefined;
  /** docker said `Image is up to date`: the pull was a no-op. */
  upToDate?: boolean;
}

export interface PullFailure extends OutcomeBase {
  ok: false;
  reason: string;
  category: PullCategory;
  /** docker's own words. */
  detail: string;
  /** Set when the mirror failed first and Docker Hub then failed too: what the mirror did. */
  mirror?: string;
}

export type PullOutcome = PullSuccess | PullFailure;

const SHORT_DIGEST_HEX = 12;

export function progressLine(outcome: PullOutcome): string {
  const timing = `${formatSeconds(outcome.seconds)} s, ${plural(outcome.attempts, 'attempt')}`;
  if (!outcome.ok) {
    const detail = outcome.detail === '' ? '' : ` (docker: ${remote(outcome.detail)})`;
    return `✘ ${outcome.image} ${outcome.reason}, after ${timing}${detail}`;
  }
  if (outcome.source === 'present') return `✔ ${outcome.image} present (the engine holds this digest; not pulled, no registry request)`;
  const source = outcome.source === 'mirror' ? ', via mirror' : outcome.source === 'fallback' ? ', from Docker Hub after the mirror failed' : '';
  const upToDate = outcome.upToDate === true ? ', Image is up to date (no-op)' : '';
  const note = outcome.note === undefined ? '' : ` (${outcome.note})`;
  return `✔ ${outcome.image} ${shortDigest(outcome.digest)} ${timing}${source}${upToDate}${note}`;
}

/**
 * The closing table; every column aligned, numbers right-aligned. SIZE sits between SECONDS and
 * ATTEMPTS: image, digest and seconds keep their places and attempts stays the last number, as
 * scripts reading the table expect. Then the totals and the no-ops.
 */
export function summaryTable(outcomes: readonly PullOutcome[], stepSeconds?: number): string[] {
  const header = ['IMAGE', 'DIGEST', 'SECONDS', 'SIZE', 'ATTEMPTS'];
  const rows = outcomes.map((o) => [
    o.image,
    o.ok ? (o.digest ?? '-') : 'failed',
    formatSeconds(o.seconds),
    o.ok && o.sizeBytes !== undefined ? compactBytes(o.sizeBytes) : '-',
    String(o.attempts),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const rightAligned = new Set([2, 3, 4]);
  const format = (cells: string[]) =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return rightAligned.has(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format), ...closingLines(outcomes, stepSeconds)];
}

function closingLines(outcomes: readonly PullOutcome[], stepSeconds: number | undefined): string[] {
  const pulled = outcomes.filter((o): o is PullSuccess => o.ok);
  const bytes = pulled.reduce((sum, o) => sum + (o.sizeBytes ?? 0), 0);
  const unknown = pulled.some((o) => o.sizeBytes === undefined) ? ' (some sizes unknown)' : '';
  const time = stepSeconds === undefined ? '' : ` in ${formatSeconds(stepSeconds)} s`;
  const lines = [`total: ${pulled.length} of ${plural(outcomes.length, 'image')}, ${formatBytes(bytes)}${unknown}${time}`];
  const present = pulled.filter((o) => o.source === 'present').map((o) => o.image);
  if (present.length > 0) lines.push(`present, not pulled (pinned by digest, already held): ${present.join(', ')}`);
  const noOps = pulled.filter((o) => o.source !== 'present' && o.upToDate === true).map((o) => o.image);
  if (noOps.length > 0) lines.push(`no-op pulls (Image is up to date): ${noOps.join(', ')}`);
  return lines;
}

/** `40.0MB`: no space, so the column stays one word. */
function compactBytes(bytes: number): string {
  return formatBytes(bytes).replace(' ', '');
}

/** The step's one failure line; undefined when every image was pulled. */
export function failureSummary(outcomes: readonly PullOutcome[]): string | undefined {
  const failed = outcomes.filter((o): o is PullFailure => !o.ok);
  if (failed.length === 0) return undefined;
  const head = `could not pull ${failed.length} of ${plural(outcomes.length, 'image')}`;
  const reasons = new Set(failed.map((o) => o.reason));
  // One cause for several images (no daemon, no network) is said once.
  if (failed.length > 1 && reasons.size === 1) {
    const items = failed.map((o) => `${o.image} after ${plural(o.attempts, 'attempt')}${o.mirror === undefined ? '' : ` (${o.mirror} first)`}`);
    return `${head} (${failed[0]?.reason ?? ''}): ${items.join(', ')}`;
  }
  const list = failed.map((o) => {
    const why = o.mirror === undefined ? o.reason : `${o.mirror}, then Docker Hub: ${o.reason}`;
    return `${o.image} (${why}, after ${plural(o.attempts, 'attempt')})`;
  });
  return `${head}: ${list.join('; ')}`;
}

/** What the mirror did before the fallback, for the failure line. */
export function mirrorFailurePhrase(verdict: Pick<PullVerdict, 'category' | 'reason' | 'detail'>): string {
  if (verdict.category === 'not-found') {
    return `the mirror lacked it (${/manifest unknown/i.test(verdict.detail) ? 'manifest unknown' : 'no such repository, or no access to it'})`;
  }
  if (verdict.category === 'auth') return 'the mirror refused access (not logged in to it?)';
  return `the mirror failed (${verdict.reason})`;
}

export function shortDigest(digest: string | undefined): string {
  if (digest === undefined) return 'digest unknown';
  const colon = digest.indexOf(':');
  const hex = digest.slice(colon + 1);
  return hex.length > SHORT_DIGEST_HEX ? `${digest.slice(0, colon + 1 + SHORT_DIGEST_HEX)}…` : digest;
}

export function formatSeconds(seconds: number): string {
  return seconds.toFixed(1);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * How good the pull was, in one line: the bytes the engine actually downloaded (shared layers
 * once), the step's wall time and the rate that makes. `downloadedBytes` comes from docker's
 * own byte counts (on a terminal), else from the manifests' sizes (`planned`); undefined: neither.
 */
export function transferLine(outcomes: readonly PullOutcome[], wallMs: number, downloaded: { bytes: number; from: 'docker' | 'manifests' } | undefined): string {
  const pulled = outcomes.filter((o): o is PullSuccess => o.ok);
  const time = formatDuration(wallMs);
  const noOp = pulled.length === outcomes.length && pulled.every((o) => o.source === 'present' || o.upToDate === true);
  if (noOp) return `regauth: nothing downloaded in ${time}: every image was already up to date`;
  if (downloaded === undefined) return `regauth: pulled in ${time}; bytes downloaded unknown (docker printed no sizes and the manifests were not read)`;
  const rate = formatRate(downloaded.bytes, wallMs);
  const about = downloaded.from === 'manifests' ? 'about ' : '';
  return `regauth: downloaded ${about}${formatBytes(downloaded.bytes)} in ${time}${rate === undefined ? '' : ` (${rate})`}`;
}

/** The plan's one line: the order chosen and why, or why the given order stands. */
export function planLine(schedule: { planned: boolean; reason: string | undefined; bytes: number | undefined; sharedLayers: number; presentLayers: number; reordered: boolean }): string {
  if (!schedule.planned) return `regauth: pulling in the order given (no plan: ${schedule.reason ?? 'unknown'})`;
  const shared = schedule.sharedLayers === 0 ? '' : `, ${plural(schedule.sharedLayers, 'shared layer')} counted once`;
  const held = schedule.presentLayers === 0 ? '' : `, ${plural(schedule.presentLayers, 'layer')} already held`;
  const how = schedule.reordered ? 'biggest download first' : 'the order given is already biggest first';
  return `regauth: pull plan: ${how}; ${formatBytes(schedule.bytes ?? 0)} to download${shared}${held}`;
}
