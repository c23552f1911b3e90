import type { Verdict } from '../core/retry.ts';
import { dockerErrorLine } from './error.ts';

/**
 * The one reading of docker's error wording, for every docker command regauth runs (login and
 * pull): which failures are worth another attempt. Pure. Covers the classic engine's messages
 * and the containerd image store's. A wrong "transient" wastes every attempt's backoff; a wrong
 * "permanent" fails a build that a retry would have saved — so each rule is anchored to phrasing
 * that an image or host name cannot produce (names have no spaces; docker quotes URLs, which are
 * removed before matching).
 */
export type DockerFailureCategory =
  | 'engine'
  | 'cli'
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

export type DockerVerdict = Verdict & {
  category: DockerFailureCategory;
  /** docker's own error line, whole (remote text: wrap it in remote() before printing). */
  detail: string;
};

/** What a failed docker command leaves behind. */
export interface CommandFailure {
  exitCode: number;
  /** stderr, then stdout. */
  output: string;
}

interface Rule {
  category: DockerFailureCategory;
  kind: 'transient' | 'permanent';
  pattern: RegExp;
  reason: string;
}

export const MACHINE_HINT = 'run the job on a machine executor, or add setup_remote_docker before this step';

/** The engine's three common failures, each a whole sentence with its fix (one line each where printed). */
export const ENGINE_PERMISSION = 'no permission on the Docker socket: add this user to the docker group (then start a new shell), or add setup_remote_docker before this step';
export const ENGINE_ABSENT = `no Docker engine answers at DOCKER_HOST (or /var/run/docker.sock): ${MACHINE_HINT}`;
export const DISK_FULL = 'the disk is full (no space left on device): remove images the job no longer needs (docker image prune -af) or use a larger resource class';

/** First match wins: the engine, then the registry's explicit answers, then the network. */
const RULES: readonly Rule[] = [
  {
    category: 'cli',
    kind: 'permanent',
    pattern: /unknown flag: --password-stdin|unknown shorthand flag/i,
    reason: 'the docker CLI is too old for --password-stdin; use docker 17.07 or newer',
  },
  {
    category: 'engine',
    kind: 'permanent',
    pattern: /permission denied while trying to connect to the docker (?:daemon|API)/i,
    reason: ENGINE_PERMISSION,
  },
  {
    category: 'engine',
    kind: 'permanent',
    pattern: /Cannot connect to the Docker daemon|Is the docker daemon running\?|(?:^|\s)error during connect: /i,
    reason: ENGINE_ABSENT,
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
      /(?:^|\s)unauthorized: |authentication required|no basic auth credentials|incorrect username or password|invalid username|bad credentials|(?:^|\s)denied: |requested access to the resource is denied|insufficient_scope|authorization failed|\b401 Unauthorized\b|\b403 Forbidden\b|\bHTTP 40[13]\b/i,
    reason: 'the registry refused access — log in first (regauth/login or regauth/ecr-oidc-login) with an account that may pull it',
  },
  { category: 'network', kind: 'permanent', pattern: /no such host/i, reason: 'the registry host name does not resolve (no such host)' },
  {
    category: 'tls',
    kind: 'permanent',
    pattern: /x509: |tls: failed to verify certificate|certificate signed by unknown authority|server gave HTTP response to HTTPS client/i,
    reason: 'the registry’s TLS setup is not trusted by docker (certificate or http/https mismatch)',
  },
  { category: 'local', kind: 'permanent', pattern: /no space left on device/i, reason: DISK_FULL },
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

/**
 * The rule docker's output matches, or undefined for wording no rule knows (each caller decides
 * what an unknown failure means: pull tries again, login stops).
 */
export function classifyDockerOutput(failure: CommandFailure): DockerVerdict | undefined {
  const detail = dockerErrorLine(failure.output);
  // docker's own log lines quote the error of each endpoint it tried (error="…"): that is docker
  // speaking, so it is read; URLs and other quoted values can contain anything (a repository
  // called "denied"), so they are dropped.
  const unwrapped = failure.output.replace(/\berror="((?:[^"\\]|\\.)*)"/g, (_m, inner: string) => inner.replace(/\\(["\\])/g, '$1'));
  const text = unwrapped.replace(/"[^"\n]*"/g, '""');
  for (const rule of RULES) {
    if (!rule.pattern.test(text)) continue;
    if (rule.kind === 'permanent') return { kind: 'permanent', reason: rule.reason, category: rule.category, detail };
    const retryAfterMs = statedWaitMs(text);
    return retryAfterMs === undefined
      ? { kind: 'transient', reason: rule.reason, category: rule.category, detail }
      : { kind: 'transient', reason: rule.reason, category: rule.category, detail, retryAfterMs };
  }
  return undefined;
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
