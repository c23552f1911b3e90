import type { PullCategory, PullVerdict } from './classify.ts';

/** What became of one image. Pure data, printed by the functions below. */
export type PullSource = 'registry' | 'mirror' | 'fallback';

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
  /** registry: pulled as asked; mirror: served by the mirror; fallback: the mirror failed, Docker Hub served. */
  source: PullSource;
  note: string | undefined;
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
    const detail = outcome.detail === '' ? '' : ` (docker: ${outcome.detail})`;
    return `✘ ${outcome.image} ${outcome.reason}, after ${timing}${detail}`;
  }
  const source = outcome.source === 'mirror' ? ', via mirror' : outcome.source === 'fallback' ? ', from Docker Hub after the mirror failed' : '';
  const note = outcome.note === undefined ? '' : ` (${outcome.note})`;
  return `✔ ${outcome.image} ${shortDigest(outcome.digest)} ${timing}${source}${note}`;
}

/** The closing table; every column aligned, numbers right-aligned. */
export function summaryTable(outcomes: readonly PullOutcome[]): string[] {
  const header = ['IMAGE', 'DIGEST', 'SECONDS', 'ATTEMPTS'];
  const rows = outcomes.map((o) => [o.image, o.ok ? (o.digest ?? '-') : 'failed', formatSeconds(o.seconds), String(o.attempts)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const rightAligned = new Set([2, 3]);
  const format = (cells: string[]) =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return rightAligned.has(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)];
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
