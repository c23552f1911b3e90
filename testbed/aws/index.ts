import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { createIssuer, type Issuer, type MintOptions } from './issuer.ts';
import { closeServer, listenLoopback, readBody } from './http.ts';
import { AwsFault, fault, newRequestId, sendJson, sendJsonError, sendQueryError, sendXml, type Service } from './responses.ts';
import { verifySigV4 } from './sigv4.ts';
import { assumeRole, assumeRoleWithWebIdentity, getCallerIdentity, type StsContext } from './sts.ts';
import { getAuthorizationToken, getPublicAuthorizationToken } from './ecr.ts';
import type { Principal, RoleConfig, StaticKeyConfig } from './state.ts';

export type { MintOptions, Issuer } from './issuer.ts';
export type { RoleConfig, StaticKeyConfig } from './state.ts';
export type { Service } from './responses.ts';

/**
 * A protocol-faithful local AWS for tests: a CircleCI-shaped OIDC issuer, STS
 * (AssumeRoleWithWebIdentity, query protocol), ECR and ECR Public GetAuthorizationToken
 * (JSON 1.1, SigV4 verified). Every listener is on 127.0.0.1 on a free port.
 */
export interface LocalAwsOptions {
  /** CircleCI organisation id: the token's default `aud` and part of the issuer URL. */
  orgId?: string;
  /** Role ARN → trust and reach. */
  roles?: Readonly<Record<string, RoleConfig>>;
  /** Long-lived keys ECR accepts directly (the ecr-login path). */
  staticKeys?: readonly StaticKeyConfig[];
  /** Extra audiences (client ids) the OIDC provider accepts besides the org id. */
  providerAudiences?: readonly string[];
  /** Password inside ECR's authorizationToken (`AWS:<password>`). */
  ecrPassword?: string;
  ecrPublicPassword?: string;
  /** proxyEndpoint per account, e.g. { '123456789012': 'https://127.0.0.1:5000' }. */
  proxyEndpoints?: Readonly<Record<string, string>>;
  /** Regions the ECR endpoint answers for; default every well-formed region. */
  ecrRegions?: readonly string[];
  /** Epoch ms; defaults to the wall clock (see `advance`). */
  now?: () => number;
  /** Short lifetimes for refresh tests (seconds); see `setLifetimes`. */
  lifetimes?: Lifetimes;
}

/**
 * Test-only lifetimes, in seconds: of tokens the mint endpoint issues (what `circleci run oidc get`
 * would), of STS credentials (instead of DurationSeconds, which AWS keeps at 900 or more), and of
 * ECR authorization tokens (12 h on AWS).
 */
export interface Lifetimes {
  jobTokenSeconds?: number;
  stsSeconds?: number;
  ecrSeconds?: number;
}

/** `hang` holds the request unanswered for 20 s (a stuck endpoint), then answers 500. */
export type FaultKind = 'Throttling' | '500' | 'reset' | 'hang' | 'IDPCommunicationError' | (string & {});

export interface RequestLogEntry {
  endpoint: 'issuer' | 'sts' | 'ecr' | 'ecrPublic';
  service: Service | 'issuer' | 'unknown';
  action: string;
  status: number | 'reset';
  errorCode?: string;
  injected?: boolean;
  /** Non-secret request details. */
  roleArn?: string;
  roleSessionName?: string;
  durationSeconds?: number;
  principal?: string;
  region?: string;
  registryIds?: string[];
}

export interface LocalAws {
  orgId: string;
  issuer: Issuer;
  /** One URL per service; any of them answers every service (dispatch is by request content). */
  urls: { issuer: string; sts: string; ecr: string; ecrPublic: string };
  /** Env for an SDK or the AWS CLI v2 to talk to this stack. */
  endpointEnv(): Record<string, string>;
  mintToken(options?: MintOptions): Promise<string>;
  /**
   * Test-only endpoint standing in for `circleci run oidc get`: POST `{"aud":"…"}` (JSON) and get a
   * freshly signed job token with `lifetimes.jobTokenSeconds`; logged as issuer action `mint`.
   */
  mintUrl: string;
  setLifetimes(lifetimes: Lifetimes): void;
  forgeToken(options?: MintOptions): Promise<string>;
  /** The next `n` requests to `service` fail with `kind`. */
  failNext(service: Service, n: number, kind: FaultKind): void;
  clearFaults(): void;
  /** Requests seen by service, optionally for one action. */
  count(service: Service, action?: string): number;
  log: RequestLogEntry[];
  resetCounters(): void;
  setRole(arn: string, role: RoleConfig): void;
  addStaticKey(key: StaticKeyConfig): void;
  setProxyEndpoint(account: string, endpoint: string): void;
  /** Moves the stack's clock (token and credential expiry) forward. */
  advance(seconds: number): void;
  now(): number;
  stop(): Promise<void>;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const orgId = options.orgId ?? randomUUID();
  let offsetMs = 0;
  const baseNow = options.now ?? Date.now;
  const now = (): number => baseNow() + offsetMs;
  const faults: Record<Service, FaultKind[]> = { sts: [], ecr: [], 'ecr-public': [] };
  const counts = new Map<string, number>();
  const log: RequestLogEntry[] = [];
  const roles = new Map(Object.entries(options.roles ?? {}));
  let lifetimes: Lifetimes = { ...options.lifetimes };
  const sessions = new Map<string, Principal>();
  const staticKeys = new Map<string, Principal>();
  const proxyEndpoints: Record<string, string> = { ...options.proxyEndpoints };
  const addStaticKey = (key: StaticKeyConfig): void => {
    staticKeys.set(key.accessKeyId, {
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      account: key.account,
      arn: `arn:aws:iam::${key.account}:user/${key.userName ?? 'ci'}`,
      accounts: key.accounts ?? [key.account],
    });
  };
  for (const key of options.staticKeys ?? []) addStaticKey(key);

  // The issuer's URL carries its port, so its listener starts first.
  const ready: { issuer?: Issuer; sts?: StsContext } = {};
  const handlerFor = (endpoint: RequestLogEntry['endpoint']): http.RequestListener => (req, res) => {
    void handle(endpoint, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  };

  const bump = (service: string, action: string): void => {
    counts.set(service, (counts.get(service) ?? 0) + 1);
    counts.set(`${service} ${action}`, (counts.get(`${service} ${action}`) ?? 0) + 1);
  };

  async function handle(endpoint: RequestLogEntry['endpoint'], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const requestId = newRequestId();
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const { issuer, sts } = ready;
    if (req.method === 'POST' && issuer && path === `${new URL(issuer.url).pathname}/mint`) {
      let aud: unknown;
      try {
        aud = (JSON.parse(body) as { aud?: unknown }).aud;
      } catch {
        aud = undefined;
      }
      log.push({ endpoint, service: 'issuer', action: 'mint', status: typeof aud === 'string' ? 200 : 400 });
      if (typeof aud !== 'string') return void res.writeHead(400).end('{"error":"aud must be a string"}');
      const token = await issuer.mintToken({ aud, ...(lifetimes.jobTokenSeconds !== undefined ? { expiresInSeconds: lifetimes.jobTokenSeconds } : {}) });
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(token);
    }
    if (req.method === 'GET' && issuer) {
      const prefix = new URL(issuer.url).pathname;
      const document = path === `${prefix}/.well-known/jwks.json` ? issuer.jwks : path === `${prefix}/.well-known/openid-configuration` ? issuer.openidConfiguration : undefined;
      log.push({ endpoint, service: 'issuer', action: path, status: document ? 200 : 404 });
      if (!document) return void res.writeHead(404).end();
      const text = JSON.stringify(document);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      return void res.end(text);
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const form = new URLSearchParams(body);
    let service: Service;
    let action: string;
    if (target.startsWith('AmazonEC2ContainerRegistry_V20150921.')) [service, action] = ['ecr', target.slice(target.indexOf('.') + 1)];
    else if (target.startsWith('SpencerFrontendService.')) [service, action] = ['ecr-public', target.slice(target.indexOf('.') + 1)];
    else if (req.method === 'POST' && form.has('Action')) [service, action] = ['sts', form.get('Action') ?? ''];
    else {
      log.push({ endpoint, service: 'unknown', action: `${req.method ?? ''} ${path}`, status: 404 });
      return void res.writeHead(404).end();
    }
    bump(service, action);
    const entry: RequestLogEntry = { endpoint, service, action, status: 200 };
    if (service === 'sts') {
      const roleArn = form.get('RoleArn');
      const session = form.get('RoleSessionName');
      const duration = form.get('DurationSeconds');
      if (roleArn !== null) entry.roleArn = roleArn;
      if (session !== null) entry.roleSessionName = session;
      if (duration !== null) entry.durationSeconds = Number(duration);
    }
    log.push(entry);

    const sendError = (error: AwsFault): void => {
      entry.status = error.status;
      entry.errorCode = error.code;
      if (service === 'sts') sendQueryError(res, error, requestId);
      else sendJsonError(res, error, requestId);
    };

    const injected = faults[service].shift();
    if (injected !== undefined) {
      entry.injected = true;
      if (injected === 'hang') {
        await new Promise((resolve) => setTimeout(resolve, 20_000).unref());
        if (req.socket.destroyed) return;
        return sendError(injectedFault(service, '500'));
      }
      if (injected === 'reset') {
        entry.status = 'reset';
        return void req.socket.destroy();
      }
      return sendError(injectedFault(service, injected));
    }

    try {
      if (service === 'sts') {
        if (form.get('Version') !== '2011-06-15') throw fault('InvalidAction', `Could not find operation ${action} for version ${form.get('Version') ?? 'NO_VERSION_SPECIFIED'}`);
        if (!sts || !['AssumeRoleWithWebIdentity', 'AssumeRole', 'GetCallerIdentity'].includes(action)) throw fault('InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
        if (action === 'AssumeRoleWithWebIdentity') return sendXml(res, 200, await assumeRoleWithWebIdentity(sts, form, requestId), requestId);
        // The signed actions a profile chained from regauth's (source_profile) makes: the caller's keys are checked as AWS checks them.
        const { principal } = await verifySigV4(
          { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body },
          { service: 'sts', regionAllowed: (r) => REGION.test(r), lookup: (id) => sessions.get(id) ?? staticKeys.get(id), now: now() },
        );
        entry.principal = principal.arn;
        const xml = action === 'AssumeRole' ? assumeRole(sts, principal, form, requestId) : getCallerIdentity(principal, requestId);
        return sendXml(res, 200, xml, requestId);
      }
      if (req.method !== 'POST' || path !== '/') throw fault('UnknownOperationException', 'Only POST / is served.');
      const contentType = String(req.headers['content-type'] ?? '');
      if (!contentType.startsWith('application/x-amz-json-1.1')) throw fault('SerializationException', 'Content-Type must be application/x-amz-json-1.1.');
      if (action !== 'GetAuthorizationToken') throw fault('UnknownOperationException', `Unknown operation ${action}`);
      const publicRegistry = service === 'ecr-public';
      const { principal, region } = await verifySigV4(
        { method: req.method, url: req.url ?? '/', headers: req.headers, body },
        {
          service,
          regionAllowed: publicRegistry ? (r) => r === 'us-east-1' : (r) => REGION.test(r) && (options.ecrRegions === undefined || options.ecrRegions.includes(r)),
          lookup: (id) => sessions.get(id) ?? staticKeys.get(id),
          now: now(),
        },
      );
      entry.principal = principal.arn;
      entry.region = region;
      if (publicRegistry) return sendJson(res, 200, getPublicAuthorizationToken({ now, password: options.ecrPublicPassword ?? 'ecr-public-password', tokenTtlSeconds: lifetimes.ecrSeconds ?? 3600 }, body), requestId);
      const ids = (JSON.parse(body || '{}') as { registryIds?: unknown }).registryIds;
      if (Array.isArray(ids)) entry.registryIds = ids.map(String);
      return sendJson(res, 200, getAuthorizationToken({ now, password: options.ecrPassword ?? 'ecr-password', proxyEndpoints, tokenTtlSeconds: lifetimes.ecrSeconds ?? 12 * 3600 }, principal, region, body), requestId);
    } catch (error) {
      if (error instanceof AwsFault) return sendError(error);
      return sendError(fault(service === 'sts' ? 'InternalFailure' : 'ServerException', 'An internal error occurred.'));
    }
  }

  const issuerListener = await listenLoopback(handlerFor('issuer'));
  const theIssuer = await createIssuer(issuerListener.url, orgId, now);
  const providerKey = theIssuer.url.replace(/^https?:\/\//, '');
  ready.issuer = theIssuer;
  ready.sts = {
    now,
    providers: new Map([[providerKey, { jwks: theIssuer.jwks, clientIds: [orgId, ...(options.providerAudiences ?? [])] }]]),
    roles,
    defaultAudience: orgId,
    defaultProvider: providerKey,
    sessions,
    sessionLifetimeSeconds: () => lifetimes.stsSeconds,
  };
  const stsListener = await listenLoopback(handlerFor('sts'));
  const ecrListener = await listenLoopback(handlerFor('ecr'));
  const ecrPublicListener = await listenLoopback(handlerFor('ecrPublic'));
  const servers = [issuerListener, stsListener, ecrListener, ecrPublicListener].map((l) => l.server);
  const urls = { issuer: issuerListener.url, sts: stsListener.url, ecr: ecrListener.url, ecrPublic: ecrPublicListener.url };

  return {
    orgId,
    issuer: theIssuer,
    urls,
    endpointEnv: () => ({ AWS_ENDPOINT_URL_STS: urls.sts, AWS_ENDPOINT_URL_ECR: urls.ecr, AWS_ENDPOINT_URL_ECR_PUBLIC: urls.ecrPublic }),
    mintToken: (o) => theIssuer.mintToken(o),
    mintUrl: `${issuerListener.url}${new URL(theIssuer.url).pathname}/mint`,
    setLifetimes: (next) => void (lifetimes = { ...next }),
    forgeToken: (o) => theIssuer.forgeToken(o),
    failNext: (service, n, kind) => {
      for (let i = 0; i < n; i++) faults[service].push(kind);
    },
    clearFaults: () => {
      for (const queue of Object.values(faults)) queue.length = 0;
    },
    count: (service, action) => counts.get(action === undefined ? service : `${service} ${action}`) ?? 0,
    log,
    resetCounters: () => {
      counts.clear();
      log.length = 0;
    },
    setRole: (arn, role) => void roles.set(arn, role),
    addStaticKey,
    setProxyEndpoint: (account, endpoint) => void (proxyEndpoints[account] = endpoint),
    advance: (seconds) => void (offsetMs += seconds * 1000),
    now,
    stop: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}

function injectedFault(service: Service, kind: FaultKind): AwsFault {
  const json = service !== 'sts';
  if (kind === 'Throttling') return json ? fault('ThrottlingException', 'Rate exceeded') : fault('Throttling', 'Rate exceeded');
  if (kind === '500') return json ? fault('ServerException', 'An internal error occurred.', 500) : fault('InternalFailure', 'An internal error occurred.', 500);
  if (kind === 'IDPCommunicationError') return fault('IDPCommunicationError', 'The identity provider could not be reached to fetch its signing keys.');
  return fault(kind, `Injected ${kind}`);
}
