import { clockTime, formatDuration } from './units.ts';

/**
 * The only place that writes to the step's output. Every line is redacted, stripped of control
 * characters and folded onto one line before it is written; text that came from outside
 * (a registry's or an endpoint's error, a file regauth did not write) is marked with remote()
 * where the message is built, and rendered here by safeRemoteText(): redacted, stripped, folded,
 * visibly quoted and only then cut, so a secret can never be half-printed by a cut and a
 * registry can neither recolour the log nor forge a line of regauth's.
 */
export interface Sink {
  write(text: string): void;
}

const MIN_SECRET_LENGTH = 4;
/** Longest remote text shown, in characters, after redaction. */
export const REMOTE_TEXT_MAX = 300;
/** Longest line written, after redaction (a backstop: remote text is already cut). */
const LINE_MAX = 4000;

function unpadded(base64: string): string {
  return base64.replace(/=+$/, '');
}

/** The ways a secret may come back: trailing white space stripped (docker strips a password's newline). */
function variants(secret: string): string[] {
  return [...new Set([secret, secret.replace(/\r?\n$/, ''), secret.trimEnd(), secret.trim()])];
}

/**
 * The alignment-independent middle of `bytes`'s base64 inside any larger base64 text (three
 * alignments, both alphabets), so base64(anything + secret + anything) is caught as well.
 */
function embeddedBase64Forms(bytes: Buffer): string[] {
  const forms: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    for (const encoding of ['base64', 'base64url'] as const) {
      const text = unpadded(Buffer.concat([Buffer.alloc(shift), bytes]).toString(encoding));
      const start = Math.ceil((shift * 4) / 3);
      const end = text.length - 3;
      if (end - start >= 12) forms.push(text.slice(start, end));
    }
  }
  return forms;
}

export class Redactor {
  private readonly secrets = new Set<string>();
  private sorted: string[] | undefined;

  /** A secret, in every form it may come back in: raw, JSON/Go-quoted, URL-encoded, base64. */
  add(secret: string | undefined): void {
    if (secret === undefined) return;
    for (const value of variants(secret)) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      this.put(value);
      this.put(JSON.stringify(value).slice(1, -1));
      this.put(encodeURIComponent(value));
      const bytes = Buffer.from(value);
      this.put(bytes.toString('base64'));
      this.put(unpadded(bytes.toString('base64')));
      this.put(unpadded(bytes.toString('base64url')));
      for (const form of embeddedBase64Forms(bytes)) this.put(form);
    }
  }

  /**
   * A user name and password pair: the password, and base64(user:password) whole — the Basic
   * header a registry may quote, and the `auth` field docker stores.
   */
  addCredentials(username: string, password: string | undefined): void {
    if (password === undefined) return;
    this.add(password);
    for (const value of variants(password)) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      const pair = Buffer.from(`${username}:${value}`);
      this.put(pair.toString('base64'));
      for (const encoding of ['base64', 'base64url'] as const) this.put(unpadded(pair.toString(encoding)));
    }
  }

  private put(form: string): void {
    if (form.length < MIN_SECRET_LENGTH || this.secrets.has(form)) return;
    this.secrets.add(form);
    this.sorted = undefined;
  }

  redact(text: string): string {
    // Longest first, so a secret that contains another is removed whole.
    this.sorted ??= [...this.secrets].sort((a, b) => b.length - a.length);
    let out = text;
    for (const secret of this.sorted) if (out.includes(secret)) out = out.split(secret).join('***');
    return out;
  }
}

const REMOTE_OPEN = '\u{F8F0}';
const REMOTE_CLOSE = '\u{F8F1}';
const MARKERS = /[\u{F8F0}\u{F8F1}]/gu;
const REMOTE_SEGMENT = /\u{F8F0}([^\u{F8F0}\u{F8F1}]*)\u{F8F1}/gu;

/**
 * Marks text that came from outside regauth, where a message is built (pure code has no
 * redactor); the Reporter renders it with safeRemoteText. Marking twice is harmless.
 */
export function remote(text: string): string {
  return `${REMOTE_OPEN}${text.replace(MARKERS, '')}${REMOTE_CLOSE}`;
}

/** The text inside remote() markers, unrendered (for classifiers that match on wording). */
export function unmarked(text: string): string {
  return text.replace(MARKERS, '');
}

/* eslint-disable no-control-regex -- control characters are exactly what these remove */
const ESCAPE_SEQUENCES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[P^_X][^\u001b]*(?:\u001b\\)?|\u001b[@-Z\\-_]?|\u009b[0-?]*[ -/]*[@-~]/gu;
const LINE_BREAKS = /[\r\n\t\v\f\u0085\u2028\u2029]+/gu;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u{F8F0}\u{F8F1}]/gu;
/* eslint-enable no-control-regex */

/** Escape sequences and control characters out; line breaks and tabs become spaces. Pure. */
export function stripControls(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, '').replace(LINE_BREAKS, ' ').replace(CONTROLS, '');
}

function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

/**
 * The one way remote text reaches the log: redacted (again after stripping, so control
 * characters inside a secret cannot smuggle it past), stripped of escape sequences and control
 * characters, folded to one line, quoted so it cannot pass for regauth's own words, and only
 * then cut.
 */
export function safeRemoteText(text: string, redactor: Redactor, max = REMOTE_TEXT_MAX): string {
  const plain = redactor.redact(stripControls(redactor.redact(text)));
  const folded = plain.replace(/\s+/gu, ' ').trim();
  return `"${cut(folded, max).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * The one switch for more detail, in every command: `REGAUTH_DEBUG=1` (or `true`) in the job's or
 * step's environment. Without it a success prints one line per thing done; with it, the token's
 * claims, each request and the route taken are shown too.
 */
export const DEBUG_SWITCH = 'REGAUTH_DEBUG';

export function debugRequested(env: NodeJS.ProcessEnv): boolean {
  return /^(1|true|yes|on)$/i.test((env[DEBUG_SWITCH] ?? '').trim());
}

export class Reporter {
  /** Set from REGAUTH_DEBUG by the command runner; detail() prints only when it is on. */
  verbose = false;

  constructor(
    readonly redactor: Redactor = new Redactor(),
    private readonly out: Sink = process.stdout,
    private readonly err: Sink = process.stderr,
  ) {}

  private readonly shown: { value: string; shownAs: string }[] = [];

  /**
   * From now on `value` (in any letter case) is printed as `shownAs`: a parameter's `${VAR}`
   * expansion is shown as where it came from, never as its contents (src/inputs/common.ts).
   */
  showAs(value: string, shownAs: string): void {
    if (value.length < 4 || this.shown.some((entry) => entry.value === value)) return;
    this.shown.push({ value, shownAs });
    this.shown.sort((a, b) => b.value.length - a.value.length);
  }

  private sourced(text: string): string {
    let out = text;
    for (const { value, shownAs } of this.shown) {
      const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(escaped, 'giu'), () => shownAs);
    }
    return out;
  }

  /** What any printed text becomes: remote segments rendered, the rest redacted, expanded values shown by their source, one line. */
  render(text: string): string {
    const rendered = text.replace(REMOTE_SEGMENT, (_m, segment: string) => safeRemoteText(this.sourced(segment), this.redactor));
    const line = this.sourced(this.redactor.redact(stripControls(this.redactor.redact(rendered))));
    return cut(line.trimEnd(), LINE_MAX);
  }

  line(text: string): void {
    this.out.write(`${this.render(text)}\n`);
  }

  /** A line only for someone who asked for detail (REGAUTH_DEBUG=1). */
  detail(text: string): void {
    if (this.verbose) this.line(text);
  }

  /**
   * A retried attempt, in one line without the remote text (the final failure line carries that
   * once; with REGAUTH_DEBUG=1 each attempt's own words follow on a detail line).
   */
  retrying(what: string, attempt: number, reason: string, delayMs: number): void {
    const own = withoutRemote(reason);
    this.line(`regauth: ${what} failed (attempt ${attempt}${own ? `: ${own}` : ''}); retrying in ${formatDuration(delayMs)}`);
    if (own !== reason.trim()) this.detail(`regauth:   attempt ${attempt}: ${reason}`);
  }

  /** The single closing line of a failed step. */
  failure(text: string): void {
    this.err.write(`regauth: ${this.render(text.replace(/\s*\n\s*/g, ' '))}\n`);
  }
}

/** What each registry's one success line says besides the host and expiry: who, and whether it renews. */
export interface LoginLineParts {
  /** The role ARN, or what the keys are. */
  identity: string;
  /** `renews itself`, or why not. */
  renewal: string;
}

/** `regauth: logged in to HOST as WHO, valid until 08:39:57 UTC, renews itself`: one line per registry. */
export function loginLine(host: string, parts: LoginLineParts, expiresAt: Date | undefined, attempts = 1): string {
  const until = expiresAt ? `, valid until ${clockTime(expiresAt)}` : '';
  return `regauth: logged in to ${host} as ${parts.identity}${until}, ${parts.renewal}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`;
}

/** regauth's own part of a message: remote segments and the punctuation left around them removed. */
export function withoutRemote(text: string): string {
  return text
    .replace(REMOTE_SEGMENT, '')
    .replace(/\(\s*\)/g, '')
    .replace(/[\s:;,(]+$/, '')
    .trim();
}
