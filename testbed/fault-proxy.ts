/**
 * A reverse proxy on 127.0.0.1 in front of a test registry that injects faults per image:
 * 429 (with or without Retry-After), 503, dropped connections, latency, extra response headers,
 * a body that stalls after its headers, an error that quotes the credentials it was sent; and
 * a bandwidth cap shared by every response body (a slow link).
 * Plain HTTP by default: docker treats 127.0.0.1 registries as insecure and falls back to HTTP.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { testPki } from './registry.ts';
import { listenOnLoopback } from './ports.ts';

/**
 * stall-body: the registry's status and headers go out, then not one byte of the body (the
 * connection stays open until the client gives up). echo-auth: 400 with an error message that
 * quotes the Authorization header it got, decoded and in JSON, as a careless registry might.
 */
export type Fault = '429' | '503' | 'reset' | 'delay' | 'stall-body' | 'echo-auth';
export type RequestKind = 'ping' | 'manifests' | 'blobs' | 'tags' | 'other';

export interface FaultRule {
  /** Repository name as in the path, e.g. `app/a`. */
  image: string;
  fault: Fault;
  /** Which requests of that image the rule hits. Default 'manifests'. */
  on?: 'manifests' | 'blobs' | 'any';
  /** Only requests with this method (e.g. 'GET'); default any. dockerd 20.10 resolves a tag
   * with HEAD and falls back to GET when HEAD fails, so failing a pull takes times: 2 (or 'GET'). */
  method?: string;
  /** How many matching requests get the fault. Default 1. */
  times?: number;
  /** For '429': send `Retry-After: <seconds>`; omitted → no header. */
  retryAfterSeconds?: number;
  /** For 'delay': how long to hold the request before forwarding it. */
  delayMs?: number;
}

export interface RuleHandle {
  /** Matching requests still to be faulted. */
  remaining(): number;
  /** How many requests this rule has faulted. */
  hits(): number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  image: string | undefined;
  kind: RequestKind;
  /** Status sent to the client; 0 when the connection was cut. */
  status: number;
  fault: Fault | undefined;
}

export interface ImageCounts {
  manifests: number;
  blobs: number;
  total: number;
}

export type HeaderInjector = (request: { method: string; path: string; image: string | undefined; kind: RequestKind }) => Record<string, string>;

export interface FaultProxy {
  /** `127.0.0.1:PORT`, use it as the registry host in image references. */
  host: string;
  url: string;
  addRule(rule: FaultRule): RuleHandle;
  clearRules(): void;
  /** Added to every request before it is forwarded (or faulted). */
  setLatency(ms: number): void;
  /** Headers added to every response (e.g. ratelimit-limit / ratelimit-remaining). */
  setResponseHeaders(headers: Record<string, string> | HeaderInjector | undefined): void;
  /** Caps the bytes per second of all response bodies together; undefined lifts the cap. */
  setBandwidth(bytesPerSecond: number | undefined): void;
  counts(image: string): ImageCounts;
  requests: readonly ProxiedRequest[];
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The registry URL, e.g. registry.url. */
  target: string;
  /** CA file to trust for an https target (default: the test CA). */
  caFile?: string;
  /** Serve HTTPS with the test certificate instead of plain HTTP. Default false. */
  tls?: boolean;
}

/** `/v2/app/a/manifests/latest` → { image: 'app/a', kind: 'manifests' } (pure). */
export function classifyPath(path: string): { image: string | undefined; kind: RequestKind } {
  const pathname = path.split('?')[0] ?? '';
  if (pathname === '/v2/' || pathname === '/v2') return { image: undefined, kind: 'ping' };
  const match = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(pathname);
  if (!match) return { image: undefined, kind: 'other' };
  return { image: match[1], kind: match[2] as RequestKind };
}

/** Registry-style JSON error bodies (pure). */
export function errorBody(fault: '429' | '503'): string {
  const error =
    fault === '429'
      ? { code: 'TOOMANYREQUESTS', message: 'too many requests (regauth test fault proxy)', detail: null }
      : { code: 'UNAVAILABLE', message: 'service unavailable (regauth test fault proxy)', detail: null };
  return JSON.stringify({ errors: [error] });
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function withoutHopByHop(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name, value]) => value !== undefined && !HOP_BY_HOP.has(name)));
}

/** Hands out send times so that all bodies together stay under the rate (one shared link). */
class Link {
  private nextFree = 0;
  constructor(public bytesPerSecond: number | undefined) {}

  /** Milliseconds to wait before `bytes` may go. */
  reserve(bytes: number): number {
    if (this.bytesPerSecond === undefined) return 0;
    const now = performance.now();
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + (bytes / this.bytesPerSecond) * 1000;
    return this.nextFree - now;
  }
}

const SLICE_BYTES = 16 * 1024;

function throttled(link: Link): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const slices: Buffer[] = [];
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) slices.push(chunk.subarray(at, at + SLICE_BYTES));
      const send = async (): Promise<void> => {
        for (const slice of slices) {
          const wait = link.reserve(slice.length);
          if (wait > 0) await delay(wait);
          this.push(slice);
        }
      };
      send().then(() => done(), done);
    },
  });
}

/** What a registry that quotes credentials back would say (pure). */
export function echoAuthBody(authorization: string | undefined): string {
  const basic = /^Basic\s+(.+)$/i.exec(authorization ?? '')?.[1];
  const decoded = basic === undefined ? '' : Buffer.from(basic, 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  const message = `bad request: got Authorization ${authorization ?? '(none)'}; user:password ${decoded}; password ${password}; as JSON ${JSON.stringify({ password })}`;
  return JSON.stringify({ errors: [{ code: 'DENIED', message, detail: null }] });
}

interface LiveRule extends FaultRule {
  left: number;
  hit: number;
}

function ruleMatches(rule: LiveRule, method: string, image: string | undefined, kind: RequestKind): boolean {
  if (rule.left <= 0 || image !== rule.image) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  const on = rule.on ?? 'manifests';
  return on === 'any' || on === kind;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const targetIsHttps = target.protocol === 'https:';
  const pki = await testPki();
  const ca = readFileSync(options.caFile ?? pki.caFile, 'utf8');
  const agent = targetIsHttps ? new HttpsAgent({ keepAlive: true, ca }) : new HttpAgent({ keepAlive: true });
  const rules: LiveRule[] = [];
  const requests: ProxiedRequest[] = [];
  let latencyMs = 0;
  const link = new Link(undefined);
  /** Responses held open by stall-body, ended at stop(). */
  const stalled = new Set<ServerResponse>();
  let injectHeaders: HeaderInjector | undefined;
  const scheme = options.tls ? 'https' : 'http';
  let selfUrl = '';

  const extraHeaders = (info: Parameters<HeaderInjector>[0]): Record<string, string> => injectHeaders?.(info) ?? {};

  const forward = (req: IncomingMessage, res: ServerResponse, record: ProxiedRequest, stall = false): void => {
    const headers = withoutHopByHop(req.headers);
    // The registry builds upload Locations from Host and X-Forwarded-Proto: keep them ours.
    headers['x-forwarded-proto'] = scheme;
    const upstream = (targetIsHttps ? httpsRequest : httpRequest)(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
      (upRes) => {
        const out = withoutHopByHop(upRes.headers);
        const location = upRes.headers.location;
        if (location?.startsWith(target.origin)) out.location = selfUrl + location.slice(target.origin.length);
        record.status = upRes.statusCode ?? 502;
        res.writeHead(record.status, { ...out, ...extraHeaders(record) });
        if (stall) {
          // Headers out now; the body never comes.
          res.flushHeaders();
          upRes.resume();
          stalled.add(res);
          res.on('close', () => stalled.delete(res));
          return;
        }
        if (link.bytesPerSecond === undefined) upRes.pipe(res);
        else upRes.pipe(throttled(link)).pipe(res);
        upRes.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      record.status = 502;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'upstream registry unreachable (regauth test fault proxy)' }] }));
      } else res.destroy();
    });
    req.pipe(upstream);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    const { image, kind } = classifyPath(path);
    const record: ProxiedRequest = { method: req.method ?? 'GET', path, image, kind, status: 0, fault: undefined };
    requests.push(record);
    const rule = rules.find((candidate) => ruleMatches(candidate, record.method, image, kind));
    if (rule) {
      rule.left -= 1;
      rule.hit += 1;
      record.fault = rule.fault;
    }
    if (latencyMs > 0) await delay(latencyMs);
    switch (rule?.fault) {
      case 'reset':
        req.socket.destroy();
        return;
      case '429':
      case '503': {
        const status = rule.fault === '429' ? 429 : 503;
        record.status = status;
        req.resume();
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(rule.fault === '429' && rule.retryAfterSeconds !== undefined ? { 'retry-after': String(rule.retryAfterSeconds) } : {}),
          ...extraHeaders(record),
        });
        res.end(errorBody(rule.fault));
        return;
      }
      case 'delay':
        await delay(rule.delayMs ?? 0);
        break;
      case 'stall-body':
        forward(req, res, record, true);
        return;
      case 'echo-auth':
        record.status = 400;
        req.resume();
        res.writeHead(400, { 'content-type': 'application/json', ...extraHeaders(record) });
        res.end(echoAuthBody(req.headers.authorization));
        return;
      default:
        break;
    }
    forward(req, res, record);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => res.destroy());
  };
  const server = options.tls
    ? createHttpsServer({ cert: readFileSync(pki.serverCertFile), key: readFileSync(pki.serverKeyFile) }, listener)
    : createHttpServer(listener);
  // Clients probing with TLS first (docker on an insecure registry) send garbage: just close.
  server.on('clientError', (_error, socket) => socket.destroy());
  const port = await listenOnLoopback(server);
  const host = `127.0.0.1:${port}`;
  selfUrl = `${scheme}://${host}`;

  let stopping: Promise<void> | undefined;
  return {
    host,
    url: selfUrl,
    addRule(rule) {
      const live: LiveRule = { ...rule, left: rule.times ?? 1, hit: 0 };
      rules.push(live);
      return { remaining: () => live.left, hits: () => live.hit };
    },
    clearRules() {
      rules.length = 0;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setBandwidth(bytesPerSecond) {
      link.bytesPerSecond = bytesPerSecond;
    },
    setResponseHeaders(headers) {
      injectHeaders = typeof headers === 'function' ? headers : headers === undefined ? undefined : () => headers;
    },
    counts(image) {
      const mine = requests.filter((request) => request.image === image);
      return {
        manifests: mine.filter((request) => request.kind === 'manifests').length,
        blobs: mine.filter((request) => request.kind === 'blobs').length,
        total: mine.length,
      };
    },
    requests,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        for (const res of stalled) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return stopping;
    },
  };
}
