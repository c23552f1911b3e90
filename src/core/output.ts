/**
 * The only place that writes to the step's output. Every line is passed through the
 * redactor first, so a secret registered here cannot reach CircleCI's log even when it
 * comes back inside remote error text.
 */
export interface Sink {
  write(text: string): void;
}

const MIN_SECRET_LENGTH = 4;

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH) return;
    this.secrets.add(secret);
    // Tokens also travel base64-encoded (docker's auth field) and URL-encoded.
    this.secrets.add(Buffer.from(secret).toString('base64'));
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) this.secrets.add(encoded);
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret that contains another is removed whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join('***');
    }
    return out;
  }
}

export class Reporter {
  constructor(
    readonly redactor: Redactor = new Redactor(),
    private readonly out: Sink = process.stdout,
    private readonly err: Sink = process.stderr,
  ) {}

  line(text: string): void {
    this.out.write(`${this.redactor.redact(text)}\n`);
  }

  /** The single closing line of a failed step. */
  failure(text: string): void {
    this.err.write(`regauth: ${this.redactor.redact(text).replace(/\s*\n\s*/g, ' ')}\n`);
  }
}

/** `1.5 s`: how waits are shown. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** An instant to the second, in UTC: `2026-11-28T08:39:57Z`. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}
