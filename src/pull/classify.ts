import { dockerErrorLine } from '../docker/error.ts';
import { ProcessStartError } from '../core/process.ts';
import type { Verdict } from '../core/retry.ts';
import { PullStalled } from './stall.ts';

/**
 * Decides from docker's own words whether a failed pull is worth another attempt. Pure.
 * Covers both the classic engine's messages and the containerd image store's.
 * A wrong "transient" wastes every attempt's backoff; a wrong "permanent" fails a build that a
 * retry would have saved — so each rule is anchored to phrasing that an image name cannot
 * produce (names have no spaces; docker quotes URLs, which are removed before matching).
 */
export type PullCategory =
  | 'engine'
  | 'reference'
  | 'rate-limit'
  | 'server'
  | 'network'
  | 'auth'
  | 'not-found'
  | 'platform'
  | 'tls'
  | 'local'
  | 'unknown';

export type PullVerdict = Verdict & {
  category: PullCategory;
  /** docker's own error line, trimmed; for the progress line. */
  detail: string;
};

/** What a failed docker command leaves behind. */
export interface CommandFailure {
  exitCode: number;
  /** stderr, then stdout. */
  output: string;
}

interface Rule {
  category: PullCategory;
  kind: 'transient' | 'permanent';
  pattern: RegExp;
  reason: string;
}

const MACHINE_HINT = 'run the job on a machine executor, or add setup_remote_docker before this step';

/** First match wins: the engine, then the registry's explicit answers, then the network. */
const RULES: readonly Rule[] = [
  {
    category: 'engine',
    kind: 'permanent',
    pattern: /permission denied while trying to connect to the docker (?:daemon|API)/i,
    reason: 'this user may not use the Docker daemon socket — add the user to the docker group or use a machine executor',
  },
  {
    category: 'engine',
    kind: 'permanent',
    pattern: /Cannot connect to the Docker daemon|Is the docker daemon running\?|(?:^|\s)error during connect: /i,
    reason: `the Docker daemon is not reachable — ${MACHINE_HINT}`,
  },
  { category: 'reference', kind: 'permanent', pattern: /invalid reference format/i, reason: 'docker rejected the image reference' },
  {
    category: 'rate-limit',
    kind: 'transient',
    pattern: /(?:^|\s)toomanyrequests: |too many requests|\bHTTP 429\b|\bstatus(?: code)?:? 429\b|\b429 Too\b|(?:^|\s)Rate exceeded\b/i,
    reason: 'rate limited by the registry (429 toomanyrequests)',
  },
  {
    category: 'not-found',
    kind: 'permanent',
    pattern: /repository does not exist|pull access denied/i,
    reason: 'the repository does not exist, or it is private and needs a login first (regauth/login)',
  },
  {
    category: 'platform',
    kind: 'permanent',
    pattern: /no matching manifest for|does not provide the specified platform|no match for platform in manifest/i,
    reason: 'the image has no variant for the requested platform',
  },
  {
    category: 'not-found',
    kind: 'permanent',
    pattern: /manifest unknown|(?:^|\s)name unknown|(?:^|\s|:)not found\b|\b404 Not Found\b|\bHTTP 404\b/i,
    reason: 'the image or tag does not exist (manifest unknown)',
  },
  {
    category: 'auth',
    kind: 'permanent',
    pattern:
      /(?:^|\s)unauthorized: |authentication required|no basic auth credentials|incorrect username or password|(?:^|\s)denied: |requested access to the resource is denied|insufficient_scope|authorization failed|\b401 Unauthorized\b|\b403 Forbidden\b|\bHTTP 40[13]\b/i,
    reason: 'the registry refused access — log in first (regauth/login or regauth/ecr-oidc-login) with an account that may pull it',
  },
  { category: 'network', kind: 'permanent', pattern: /no such host/i, reason: 'the registry host name does not resolve (no such host)' },
  {
    category: 'tls',
    kind: 'permanent',
    pattern: /x509: |tls: failed to verify certificate|certificate signed by unknown authority|server gave HTTP response to HTTPS client/i,
    reason: 'the registry’s TLS setup is not trusted by docker (certificate or http/https mismatch)',
  },
  { category: 'local', kind: 'permanent', pattern: /no space left on device/i, reason: 'the machine ran out of disk space' },
  {
    category: 'server',
    kind: 'transient',
    pattern:
      /\b5\d\d (?:Internal Server Error|Not Implemented|Bad Gateway|Service Unavailable|Gateway Time-?out)\b|received unexpected HTTP status: 5\d\d\b|\bHTTP 5\d\d\b|\bstatus(?: code)?:? 5\d\d\b/i,
    reason: 'the registry answered with a server error (5xx)',
  },
  {
    category: 'network',
    kind: 'transient',
    pattern:
      /TLS handshake timeout|connection reset by peer|i\/o timeout|unexpected EOF|context deadline exceeded|connection refused|Client\.Timeout exceeded|request canceled|broken pipe|network is unreachable|no route to host|connection timed out|server misbehaving|Temporary failure in name resolution|GOAWAY|stream error|(?:^|[\s:])EOF\s*$/im,
    reason: 'the connection to the registry failed (reset, refused or timed out)',
  },
];

export function classifyFailure(failure: CommandFailure): PullVerdict {
  const detail = dockerErrorLine(failure.output);
  // URLs and other quoted values can contain anything (a repository called "denied"); drop them.
  const text = failure.output.replace(/"[^"\n]*"/g, '""');
  for (const rule of RULES) {
    if (!rule.pattern.test(text)) continue;
    if (rule.kind === 'permanent') return { kind: 'permanent', reason: rule.reason, category: rule.category, detail };
    const retryAfterMs = statedWaitMs(text);
    return retryAfterMs === undefined
      ? { kind: 'transient', reason: rule.reason, category: rule.category, detail }
      : { kind: 'transient', reason: rule.reason, category: rule.category, detail, retryAfterMs };
  }
  if (failure.exitCode >= 128) {
    return { kind: 'transient', reason: `docker was stopped by a signal (exit ${failure.exitCode})`, category: 'unknown', detail };
  }
  // Unrecognised wording: one more try is cheaper than a failed build.
  return { kind: 'transient', reason: 'docker failed for an unrecognised reason', category: 'unknown', detail };
}

/** For withRetry: anything a docker call can throw. */
export function classifyPullError(error: unknown): PullVerdict {
  if (error instanceof ProcessStartError) {
    return { kind: 'permanent', reason: `${error.message} — ${MACHINE_HINT}`, category: 'engine', detail: error.message };
  }
  if (isCommandFailure(error)) return classifyFailure(error);
  // A stalled transfer is the network's fault as far as anyone can tell: worth another attempt.
  if (error instanceof PullStalled) return { kind: 'transient', reason: error.message, category: 'network', detail: '' };
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'permanent', reason: `internal error: ${message}`, category: 'unknown', detail: message };
}

export function isCommandFailure(error: unknown): error is CommandFailure {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { exitCode?: unknown }).exitCode === 'number' &&
    typeof (error as { output?: unknown }).output === 'string'
  );
}


/**
 * A wait the registry stated in so many words. Docker Hub states none; GHCR-style limiters say
 * `retry-after: 1.5s` (a Go duration); some proxies pass `Retry-After: 30` through. Anything
 * vaguer is ignored and ordinary backoff applies.
 */
export function statedWaitMs(text: string): number | undefined {
  const goDuration = /retry[- ]after:?\s*((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)(?![\w.])/i.exec(text);
  if (goDuration?.[1]) return parseGoDuration(goDuration[1]);
  const seconds = /retry[- ]after:?\s*(\d+)(?![\w.])/i.exec(text);
  if (seconds?.[1]) return Number(seconds[1]) * 1000;
  const prose = /(?:try again|retry) in (\d+(?:\.\d+)?) ?(seconds?|secs?|s|minutes?|mins?|m)\b/i.exec(text);
  if (prose?.[1] && prose[2]) return Math.round(Number(prose[1]) * (prose[2].startsWith('m') ? 60_000 : 1000));
  return undefined;
}

const GO_UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function parseGoDuration(value: string): number {
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(amount) * (GO_UNIT_MS[unit ?? ''] ?? 0);
  }
  return Math.ceil(total);
}
