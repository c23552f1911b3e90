/** The CircleCI OIDC token: read, mint, decode (unverified, to show claims) and diagnose. */
export { decodeTokenClaims, isExpiringWithin, describeClaims, audiences, type TokenClaims } from './claims.ts';
export { diagnose, providerName } from './diagnose.ts';
export { obtainOidcToken, mintOidcToken, type ObtainTokenOptions, type OidcToken, type TokenSource } from './token.ts';
