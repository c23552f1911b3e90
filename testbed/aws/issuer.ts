import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

/**
 * A CircleCI-shaped OIDC issuer: RS256 keys, a JWKS and tokens carrying CircleCI's claims.
 * The issuer URL is `<base>/org/<orgId>` like https://oidc.circleci.com/org/<org-id>.
 */
export interface MintOptions {
  /** Defaults to the org id, as CircleCI's default token has. */
  aud?: string | string[];
  /** Defaults to a v2 subject built from the project, user, vcs origin and ref below. */
  sub?: string;
  /** Seconds since the epoch; defaults to the issuer's clock. */
  iat?: number;
  /** Defaults to 3600, like CircleCI. */
  expiresInSeconds?: number;
  nbf?: number;
  /** Overrides the issuer claim (a token from a provider STS does not know). */
  iss?: string;
  projectId?: string;
  userId?: string;
  vcsOrigin?: string;
  vcsRef?: string;
  /** 'v1' leaves out the vcs-origin and vcs-ref parts of `sub`. */
  version?: 'v1' | 'v2';
  /** Any other claim, e.g. 'oidc.circleci.com/context-ids'. */
  [claim: string]: unknown;
}

export interface Issuer {
  /** e.g. http://127.0.0.1:PORT/org/<orgId> */
  url: string;
  orgId: string;
  projectId: string;
  userId: string;
  jwks: { keys: JWK[] };
  openidConfiguration: Record<string, unknown>;
  mintToken(options?: MintOptions): Promise<string>;
  /** Same header and claims, signed with a key the issuer never published. */
  forgeToken(options?: MintOptions): Promise<string>;
  /** The claims a token minted with `options` would carry (for assertions). */
  claims(options?: MintOptions): JWTPayload;
}

const KID = 'regauth-local-1';

export async function createIssuer(baseUrl: string, orgId: string, now: () => number): Promise<Issuer> {
  const good = await generateKeyPair('RS256', { extractable: true });
  const rogue = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const url = `${baseUrl}/org/${orgId}`;
  const projectId = randomUUID();
  const userId = randomUUID();

  const claims = (options: MintOptions = {}): JWTPayload => {
    const {
      aud, sub, iat, expiresInSeconds, nbf, iss, projectId: project, userId: user, vcsOrigin, vcsRef, version, ...extra
    } = options;
    const issuedAt = iat ?? Math.floor(now() / 1000);
    const origin = vcsOrigin ?? 'github.com/example-org/example-repo';
    const ref = vcsRef ?? 'refs/heads/main';
    const v1 = `org/${orgId}/project/${project ?? projectId}/user/${user ?? userId}`;
    const payload: JWTPayload = {
      iss: iss ?? url,
      aud: aud ?? orgId,
      sub: sub ?? (version === 'v1' ? v1 : `${v1}/vcs-origin/${origin}/vcs-ref/${ref}`),
      iat: issuedAt,
      exp: issuedAt + (expiresInSeconds ?? 3600),
      'oidc.circleci.com/project-id': project ?? projectId,
      'oidc.circleci.com/context-ids': [],
      'oidc.circleci.com/ssh-rerun': false,
      ...extra,
    };
    if (version !== 'v1') {
      payload['oidc.circleci.com/vcs-origin'] = origin;
      payload['oidc.circleci.com/vcs-ref'] = ref;
    }
    if (nbf !== undefined) payload.nbf = nbf;
    return payload;
  };

  const sign = (key: Parameters<SignJWT['sign']>[0], options?: MintOptions): Promise<string> =>
    new SignJWT(claims(options)).setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' }).sign(key);

  return {
    url,
    orgId,
    projectId,
    userId,
    jwks: { keys: [publicJwk] },
    openidConfiguration: {
      issuer: url,
      jwks_uri: `${url}/.well-known/jwks.json`,
      subject_types_supported: ['public'],
      response_types_supported: ['id_token'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: ['aud', 'exp', 'iat', 'iss', 'sub', 'oidc.circleci.com/project-id', 'oidc.circleci.com/vcs-origin', 'oidc.circleci.com/vcs-ref', 'oidc.circleci.com/context-ids', 'oidc.circleci.com/ssh-rerun'],
    },
    mintToken: (options) => sign(good.privateKey, options),
    forgeToken: (options) => sign(rogue.privateKey, options),
    claims,
  };
}
