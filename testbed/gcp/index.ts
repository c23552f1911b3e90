import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { createIssuer, type Issuer, type MintOptions } from '../aws/issuer.ts';
import { closeServer, listenLoopback, readBody } from '../aws/http.ts';
import { exchangeToken, generateAccessToken, GoogleFault, oauthError, poolName, providerResource, readExchangeParams, rpcError, type GoogleState, type IssuedToken, type ProviderConfig, type ServiceAccountConfig } from './google.ts';

export type { ProviderConfig, ServiceAccountConfig, IssuedToken } from './google.ts';
export type { MintOptions, Issuer } from '../aws/issuer.ts';

/**
 * A protocol-faithful local Google for tests: a CircleCI-shaped OIDC issuer, STS `/v1/token`
 * (token exchange, form or JSON) and IAM Credentials `generateAccessToken`, checking what Google
 * checks (JWT signature against the issuer's keys, iss, exp, allowed audiences, attribute mapping
 * and its 127-byte google.subject limit, attribute condition, workloadIdentityUser bindings,
 * lifetimes) and answering in Google's error shapes. Each listener is on 127.0.0.1 on a free port.
 */
export interface LocalGoogleOptions {
  orgId?: string;
  /** Trust an existing CircleCI issuer (e.g. the local AWS's), as one org's token serves both clouds; default: an issuer of its own. */
  issuer?: Issuer;
  projectNumber?: string;
  pool?: string;
  provider?: string;
  /** Default: the org id (CircleCI's default aud), as the README's setup allows. */
  allowedAudiences?: readonly string[];
  /** Default: google.subject=assertion.sub, attribute.project=assertion['oidc.circleci.com/project-id']. */
  attributeMapping?: Readonly<Record<string, string>>;
  attributeCondition?: string;
  serviceAccounts?: Readonly<Record<string, ServiceAccountConfig>>;
  /** Seconds a federated token lives; default 3600. */
  federatedLifetimeSeconds?: number;
  /** Seconds an impersonated token lives, whatever was asked; default: as asked. */
  accessLifetimeSeconds?: number;
  now?: () => number;
}

export type GoogleService = 'sts' | 'iam';
/** 'hang': the request is read and never answered (a client's deadline must end it). */
export type GoogleFaultKind = '429' | '500' | '503' | 'reset' | 'hang' | 'invalid_grant' | 'PERMISSION_DENIED' | 'UNAUTHENTICATED';

export interface GoogleLogEntry {
  service: GoogleService | 'issuer' | 'unknown';
  path: string;
  /** 'reset': the connection was cut, or (hang) never answered. */
  status: number | 'reset';
  errorCode?: string;
  injected?: boolean;
  /** Non-secret request details. */
  audience?: string;
  contentType?: string;
  subjectSub?: string;
  serviceAccount?: string;
  lifetime?: string;
  principal?: string;
}

export interface LocalGoogle {
  orgId: string;
  issuer: Issuer;
  projectNumber: string;
  pool: string;
  provider: string;
  /** projects/<n>/locations/global/workloadIdentityPools/<pool>/providers/<provider> */
  providerName: string;
  /** Base URLs ending in `/`, as CLOUDSDK_API_ENDPOINT_OVERRIDES_* take them. */
  urls: { issuer: string; sts: string; iamCredentials: string };
  endpointEnv(): Record<string, string>;
  /** principal://…/subject/<subject> and principalSet://…/attribute.project/<id> of this pool. */
  principal(subject: string): string;
  projectPrincipalSet(projectId?: string): string;
  mintToken(options?: MintOptions): Promise<string>;
  forgeToken(options?: MintOptions): Promise<string>;
  setProvider(changes: Partial<Pick<ProviderConfig, 'allowedAudiences' | 'attributeMapping' | 'attributeCondition' | 'disabled' | 'issuerUri'>>): void;
  setServiceAccount(email: string, config: ServiceAccountConfig | undefined): void;
  /** Lifetimes of tokens issued from now on, in seconds (expiry and refresh tests). */
  setLifetimes(lifetimes: { federatedSeconds?: number; accessSeconds?: number | undefined }): void;
  /** A live token this Google issued, or undefined (unknown or expired). */
  verifyAccessToken(token: string): IssuedToken | undefined;
  /** Every token issued so far (the tests' canaries: none may appear in output, argv or $BASH_ENV). */
  issuedTokens(): { token: string; kind: IssuedToken['kind'] }[];
  /**
   * Token-server hooks for a registry standing in for Artifact Registry: `oauth2accesstoken` with
   * a live access token logs in; pulls need one of `readers` (members holding
   * roles/artifactregistry.reader, e.g. serviceAccount:<email> or a principalSet).
   */
  registryAuth(readers: readonly string[]): { authenticate: (user: string, password: string) => string | undefined; authorize: (user: string, scope: { actions: string[] }) => string[] };
  failNext(service: GoogleService, n: number, kind: GoogleFaultKind): void;
  clearFaults(): void;
  count(service: GoogleService): number;
  log: GoogleLogEntry[];
  resetCounters(): void;
  advance(seconds: number): void;
  now(): number;
  stop(): Promise<void>;
}

const GENERATE = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/;

export async function startLocalGoogle(options: LocalGoogleOptions = {}): Promise<LocalGoogle> {
  const orgId = options.issuer?.orgId ?? options.orgId ?? randomUUID();
  const projectNumber = options.projectNumber ?? '123456789012';
  const pool = options.pool ?? 'circleci';
  const providerId = options.provider ?? 'acme-org';
  let offsetMs = 0;
  const baseNow = options.now ?? Date.now;
  const now = (): number => baseNow() + offsetMs;
  const faults: Record<GoogleService, GoogleFaultKind[]> = { sts: [], iam: [] };
  const counts = new Map<GoogleService, number>();
  const log: GoogleLogEntry[] = [];
  const ready: { issuer?: Issuer; state?: GoogleState } = {};

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const { issuer, state } = ready;
    if (!issuer || !state) return void res.writeHead(503).end();
    if (req.method === 'GET') {
      const prefix = new URL(issuer.url).pathname;
      const document = path === `${prefix}/.well-known/jwks.json` ? issuer.jwks : path === `${prefix}/.well-known/openid-configuration` ? issuer.openidConfiguration : undefined;
      log.push({ service: 'issuer', path, status: document ? 200 : 404 });
      return void sendJson(res, document ? 200 : 404, document ?? { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } });
    }
    const generate = GENERATE.exec(path);
    const service: GoogleService | undefined = req.method === 'POST' && path === '/v1/token' ? 'sts' : req.method === 'POST' && generate ? 'iam' : undefined;
    if (!service) {
      log.push({ service: 'unknown', path: `${req.method ?? ''} ${path}`, status: 404 });
      return void sendJson(res, 404, { error: { code: 404, message: `The requested URL ${path} was not found on this server.`, status: 'NOT_FOUND' } });
    }
    counts.set(service, (counts.get(service) ?? 0) + 1);
    const contentType = String(req.headers['content-type'] ?? '');
    const entry: GoogleLogEntry = { service, path, status: 200, contentType };
    log.push(entry);
    const injected = faults[service].shift();
    try {
      if (service === 'sts') {
        const params = readExchangeParams(contentType, body);
        if (params.audience !== undefined) entry.audience = params.audience;
        try {
          if (params.subjectToken) entry.subjectSub = String((JSON.parse(Buffer.from(params.subjectToken.split('.')[1] ?? '', 'base64url').toString()) as { sub?: unknown }).sub ?? '');
        } catch {
          // not a JWT; exchangeToken says so
        }
        if (injected !== undefined) return injectFault(res, entry, service, injected, req);
        const outcome = await exchangeToken(state, params);
        entry.principal = outcome.principal;
        return sendJson(res, 200, outcome.body);
      }
      const email = decodeURIComponent(generate?.[1] ?? '');
      entry.serviceAccount = email;
      try {
        const lifetime = (JSON.parse(body || '{}') as { lifetime?: unknown }).lifetime;
        if (lifetime !== undefined) entry.lifetime = String(lifetime);
      } catch {
        // generateAccessToken answers the parse error
      }
      if (injected !== undefined) return injectFault(res, entry, service, injected, req);
      return sendJson(res, 200, generateAccessToken(state, email, req.headers.authorization, body));
    } catch (error) {
      const fault = error instanceof GoogleFault ? error : service === 'sts' ? oauthError('server_error', 'Internal error.', 500) : rpcError(500, 'Internal error encountered.');
      entry.status = fault.status;
      entry.errorCode = fault.code;
      return sendJson(res, fault.status, fault.body);
    }
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
  const issuerListener = await listenLoopback(listener);
  const stsListener = await listenLoopback(listener);
  const iamListener = await listenLoopback(listener);
  const issuer = options.issuer ?? (await createIssuer(issuerListener.url, orgId, now));
  const provider: ProviderConfig = {
    projectNumber,
    pool,
    provider: providerId,
    issuerUri: issuer.url,
    jwks: issuer.jwks,
    allowedAudiences: options.allowedAudiences ?? [orgId],
    attributeMapping: options.attributeMapping ?? { 'google.subject': 'assertion.sub', 'attribute.project': "assertion['oidc.circleci.com/project-id']" },
    ...(options.attributeCondition !== undefined ? { attributeCondition: options.attributeCondition } : {}),
  };
  const state: GoogleState = {
    now,
    providers: [provider],
    serviceAccounts: new Map(Object.entries(options.serviceAccounts ?? {})),
    tokens: new Map(),
    federatedLifetimeSeconds: options.federatedLifetimeSeconds ?? 3600,
    ...(options.accessLifetimeSeconds !== undefined ? { accessLifetimeOverrideSeconds: options.accessLifetimeSeconds } : {}),
  };
  ready.issuer = issuer;
  ready.state = state;
  const urls = { issuer: issuer.url, sts: `${stsListener.url}/`, iamCredentials: `${iamListener.url}/` };
  const poolPath = `iam.googleapis.com/${poolName(provider)}`;
  const verifyAccessToken = (token: string): IssuedToken | undefined => {
    const issued = state.tokens.get(token);
    return issued && issued.expiresAt > now() ? issued : undefined;
  };

  return {
    orgId,
    issuer,
    projectNumber,
    pool,
    provider: providerId,
    providerName: providerResource(provider),
    urls,
    endpointEnv: () => ({ CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: urls.sts, CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: urls.iamCredentials }),
    principal: (subject) => `principal://${poolPath}/subject/${subject}`,
    projectPrincipalSet: (projectId = issuer.projectId) => `principalSet://${poolPath}/attribute.project/${projectId}`,
    mintToken: (o) => issuer.mintToken(o),
    forgeToken: (o) => issuer.forgeToken(o),
    setProvider: (changes) => void Object.assign(provider, changes),
    setServiceAccount: (email, config) => void (config ? state.serviceAccounts.set(email, config) : state.serviceAccounts.delete(email)),
    setLifetimes: ({ federatedSeconds, accessSeconds }) => {
      if (federatedSeconds !== undefined) state.federatedLifetimeSeconds = federatedSeconds;
      if (accessSeconds === undefined) delete state.accessLifetimeOverrideSeconds;
      else state.accessLifetimeOverrideSeconds = accessSeconds;
    },
    verifyAccessToken,
    issuedTokens: () => [...state.tokens].map(([token, issued]) => ({ token, kind: issued.kind })),
    registryAuth: (readers) => {
      const subjects = new Map<string, IssuedToken>();
      return {
        authenticate: (user, password) => {
          if (user !== 'oauth2accesstoken') return undefined;
          const issued = verifyAccessToken(password);
          if (!issued) return undefined;
          subjects.set(issued.principal, issued);
          return issued.principal;
        },
        authorize: (user, scope) => {
          const issued = subjects.get(user);
          return issued && issued.members.some((member) => readers.includes(member)) ? scope.actions.filter((action) => action === 'pull') : [];
        },
      };
    },
    failNext: (service, n, kind) => {
      for (let i = 0; i < n; i++) faults[service].push(kind);
    },
    clearFaults: () => {
      faults.sts.length = 0;
      faults.iam.length = 0;
    },
    count: (service) => counts.get(service) ?? 0,
    log,
    resetCounters: () => {
      counts.clear();
      log.length = 0;
    },
    advance: (seconds) => void (offsetMs += seconds * 1000),
    now,
    stop: async () => {
      await Promise.all([issuerListener, stsListener, iamListener].map((l) => closeServer(l.server)));
    },
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function injectFault(res: http.ServerResponse, entry: GoogleLogEntry, service: GoogleService, kind: GoogleFaultKind, req: http.IncomingMessage): void {
  entry.injected = true;
  if (kind === 'hang') {
    entry.status = 'reset';
    return;
  }
  if (kind === 'reset') {
    entry.status = 'reset';
    req.socket.destroy();
    return;
  }
  const fault =
    kind === '429'
      ? service === 'sts'
        ? oauthError('rate_limit_exceeded', 'Quota exceeded for quota metric.', 429)
        : rpcError(429, 'Quota exceeded for quota metric.', 'RESOURCE_EXHAUSTED')
      : kind === '500' || kind === '503'
        ? service === 'sts'
          ? oauthError('server_error', 'The service is currently unavailable.', Number(kind))
          : rpcError(Number(kind), 'The service is currently unavailable.')
        : kind === 'invalid_grant'
          ? oauthError('invalid_grant', 'The audience in ID Token [injected] does not match the expected audience.')
          : kind === 'PERMISSION_DENIED'
            ? rpcError(403, "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).", 'PERMISSION_DENIED')
            : rpcError(401, 'Request had invalid authentication credentials.', 'UNAUTHENTICATED');
  entry.status = fault.status;
  entry.errorCode = fault.code;
  sendJson(res, fault.status, fault.body, kind === '429' ? { 'retry-after': '1' } : {});
}
