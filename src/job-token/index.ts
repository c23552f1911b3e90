/** The CircleCI OIDC token: read, mint, decode (unverified, to show claims); each cloud diagnoses its own refusals (clouds/<c>/diagnose.ts). */
export { decodeTokenClaims, isExpiringWithin, describeClaims, claimsDetail, claimsLine, audiences, mintAudience, type Diagnosis, type TokenClaims } from './claims.ts';
export { obtainOidcToken, mintOidcToken, type ObtainTokenOptions, type OidcToken, type TokenSource } from './token.ts';
export { findAgent, type AgentLookup } from './agent.ts';
