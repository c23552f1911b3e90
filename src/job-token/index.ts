/** The CircleCI OIDC token: read, mint, decode (unverified, to show claims) and diagnose. */
export { decodeTokenClaims, isExpiringWithin, describeClaims, claimsDetail, claimsLine, audiences, type TokenClaims } from './claims.ts';
export { diagnose, providerName, type Diagnosis } from './diagnose.ts';
export { diagnoseTokenExchange, diagnosePermissionDenied, describeClaimsForGoogle, federatedPrincipals, GOOGLE_SUBJECT_LIMIT, type GoogleTarget } from './diagnose-google.ts';
export { obtainOidcToken, mintOidcToken, type ObtainTokenOptions, type OidcToken, type TokenSource } from './token.ts';
export { findAgent, type AgentLookup } from './agent.ts';
