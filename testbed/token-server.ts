/**
 * A registry token server (the `auth: token` realm) on 127.0.0.1: checks Basic credentials and
 * hands out RS256 JWTs whose x5c chain the registry verifies against its rootcertbundle.
 */
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './ports.ts';

export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenServerOptions {
  users: Readonly<Record<string, string>>;
  /** The registry's `auth.token.service`; tokens are issued with this audience. */
  service: string;
  /** The registry's `auth.token.issuer`. */
  issuer: string;
  /** PKCS#8 PEM of the RSA key that signs tokens. */
  signingKeyPem: string;
  /** PEM certificates, signing certificate first; they go into the JWT `x5c` header. */
  certChainPem: string;
  /** Token lifetime; registries require at least 60 s. Default 300. */
  expiresInSeconds?: number;
  /** Which of the requested actions a user gets. Default: all of them. */
  authorize?: (user: string, scope: Scope) => string[];
  /**
   * Checks credentials that are not in `users` (e.g. an OAuth access token under
   * `oauth2accesstoken`, as Artifact Registry takes it): the token's subject, or undefined to refuse.
   */
  authenticate?: (user: string, password: string) => string | undefined;
}

export interface TokenRequestRecord {
  method: string;
  /** The account whose credentials were presented, or undefined when none were. */
  account: string | undefined;
  scopes: string[];
  status: number;
}

export interface TokenServer {
  /** The realm URL to put in the registry config. */
  realm: string;
  url: string;
  service: string;
  issuer: string;
  /** Number of token requests answered (any outcome). */
  requestCount(): number;
  requests: readonly TokenRequestRecord[];
  stop(): Promise<void>;
}

/** `repository:app/a:pull,push` → {type, name, actions}; undefined when malformed. */
export function parseScope(scope: string): Scope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter((action) => action !== ''),
  };
}

/** Basic credentials from an Authorization header, or undefined. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function x5cChain(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('token server: certChainPem holds no certificate');
  return blocks.map((block) => new X509Certificate(block).raw.toString('base64'));
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: Scope[];
}

/** Signs a registry token (RS256, x5c header). Pure apart from the signature itself. */
export function signRegistryToken(claims: TokenClaims, key: KeyObject, x5c: string[]): string {
  const header = { typ: 'JWT', alg: 'RS256', x5c };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${base64url(sign('sha256', Buffer.from(input), key))}`;
}

function constantTimeEqual(a: string, b: string): boolean {
  // Hashing first makes lengths equal so the comparison leaks nothing about the password.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return ha.equals(hb);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const key = createPrivateKey(options.signingKeyPem);
  const x5c = x5cChain(options.certChainPem);
  const expiresIn = options.expiresInSeconds ?? 300;
  const requests: TokenRequestRecord[] = [];

  const checkUser = (user: string | undefined, password: string | undefined): string | undefined => {
    if (user === undefined || password === undefined) return undefined;
    const expected = options.users[user];
    if (expected !== undefined) return constantTimeEqual(expected, password) ? user : undefined;
    return options.authenticate?.(user, password);
  };

  const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let params = url.searchParams;
    let user: string | undefined;
    let presented: string | undefined;
    if (req.method === 'POST') {
      // OAuth2 password grant, as some clients use instead of GET + Basic.
      params = new URLSearchParams(await readBody(req));
      presented = params.get('username') ?? undefined;
      user = params.get('grant_type') === 'password' ? checkUser(presented, params.get('password') ?? undefined) : undefined;
    } else {
      const basic = parseBasic(req.headers.authorization);
      presented = basic?.user;
      user = checkUser(basic?.user, basic?.password);
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const record: TokenRequestRecord = { method: req.method ?? 'GET', account: presented, scopes, status: 0 };
    requests.push(record);

    if (params.get('service') !== options.service) {
      record.status = 400;
      reply(res, 400, { errors: [{ code: 'UNSUPPORTED', message: `unknown service ${params.get('service') ?? '(none)'}` }] });
      return;
    }
    if (user === undefined) {
      record.status = 401;
      reply(
        res,
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] },
        { 'www-authenticate': 'Basic realm="regauth test token server"' },
      );
      return;
    }
    const access = scopes
      .map(parseScope)
      .filter((scope): scope is Scope => scope !== undefined)
      .map((scope) => ({ ...scope, actions: options.authorize ? options.authorize(user, scope) : scope.actions }));
    const now = Math.floor(Date.now() / 1000);
    const token = signRegistryToken(
      { iss: options.issuer, sub: user, aud: options.service, exp: now + expiresIn, nbf: now - 5, iat: now, jti: randomUUID(), access },
      key,
      x5c,
    );
    record.status = 200;
    reply(res, 200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { errors: [{ code: 'UNKNOWN', message: String(error) }] });
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server);
  const url = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    realm: `${url}/token`,
    url,
    service: options.service,
    issuer: options.issuer,
    requestCount: () => requests.length,
    requests,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
