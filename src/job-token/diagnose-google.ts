import { audiences, describeClaims, type TokenClaims } from './claims.ts';

/** What the Google side must have for a token, for diagnosis lines (mirrors diagnose.ts for AWS). */
export interface GoogleTarget {
  /** The provider's resource name. */
  provider: string;
  projectNumber: string;
  pool: string;
  /** '' when the federated token is used directly. */
  serviceAccount: string;
}

/** google.subject is at most this many bytes. */
export const GOOGLE_SUBJECT_LIMIT = 127;

function orgIdOf(iss: string | undefined): string | undefined {
  return iss ? /\/org\/([^/]+)$/.exec(iss)?.[1] : undefined;
}

function byteLength(text: string | undefined): number {
  return Buffer.byteLength(text ?? '', 'utf8');
}

/** `iss=… aud=… sub=… (N bytes) exp=…`: safe to print (claims only, never the token). */
export function describeClaimsForGoogle(claims: TokenClaims, nowMs: number): string {
  return describeClaims(claims, nowMs).replace(/ exp=/, ` (sub is ${byteLength(claims.sub)} bytes) exp=`);
}

/**
 * Lines naming what the workload identity provider must have for this token, for a failed token
 * exchange. Pure. `errorCode`/`message` are Google's (already redacted).
 */
export function diagnoseTokenExchange(claims: TokenClaims, target: GoogleTarget, errorCode: string, message: string, nowMs: number = Date.now()): string[] {
  const aud = audiences(claims)[0] ?? '<aud>';
  const orgId = orgIdOf(claims.iss);
  const subBytes = byteLength(claims.sub);
  const lines = [
    `token claims: ${describeClaimsForGoogle(claims, nowMs)}`,
    `the workload identity provider ${target.provider} must have:`,
    `  issuer (OIDC)       ${claims.iss ?? '<issuer>'}${orgId ? '' : ' (CircleCI issuers are https://oidc.circleci.com/org/<org-id>)'}`,
    `  allowed audiences   including ${aud}`,
    `  attribute mapping   google.subject of at most ${GOOGLE_SUBJECT_LIMIT} bytes (this token's sub is ${subBytes} bytes${subBytes > GOOGLE_SUBJECT_LIMIT ? ": map google.subject=assertion['oidc.circleci.com/project-id'] or from the v1 token's sub" : ''})`,
    '  attribute condition true for these claims, e.g. assertion.aud == \'' + aud + "' && assertion['oidc.circleci.com/project-id'] == '<project-id>'",
  ];
  const expired = typeof claims.exp === 'number' && claims.exp * 1000 <= nowMs;
  let cause: string;
  if (expired || /expired|stale/i.test(message)) cause = 'the token has expired (CircleCI tokens live 1 h from job start): log in earlier in the job, or set audience so regauth mints a fresh token';
  else if (errorCode === 'invalid_target') cause = 'the pool or provider does not exist, is disabled, or lives in another project: check workload_identity_provider (project number, pool id, provider id)';
  else if (/google\.subject/.test(message) && /127/.test(message)) cause = `the mapped google.subject is over ${GOOGLE_SUBJECT_LIMIT} bytes: CircleCI's v2 sub is ${subBytes} bytes; change the mapping (see the README) or provide CIRCLE_OIDC_TOKEN`;
  else if (/audience/i.test(message)) cause = `the provider's allowed audiences do not include ${aud}: add it (CircleCI's default aud is the organization id${orgId ? ` ${orgId}` : ''})`;
  else if (/issuer/i.test(message)) cause = `the provider's issuer URI is not ${claims.iss ?? '<issuer>'}: set it to the token's iss`;
  else if (/attribute condition/i.test(message)) cause = "the provider's attribute condition rejected these claims: compare it with the claims above";
  else if (/signature|key/i.test(message)) cause = "the token's signature does not verify with the issuer's keys: the provider's issuer (or uploaded JWKS) must be the token's issuer";
  else cause = 'compare the claims above with the provider settings';
  lines.push(`likely cause: ${cause}`);
  return lines;
}

/** The principal the pool gives this job, as IAM bindings name it. */
export function federatedPrincipals(target: GoogleTarget, claims: TokenClaims): { subject: string; project: string } {
  const pool = `iam.googleapis.com/projects/${target.projectNumber}/locations/global/workloadIdentityPools/${target.pool}`;
  const project = typeof claims['oidc.circleci.com/project-id'] === 'string' ? claims['oidc.circleci.com/project-id'] : '<project-id>';
  return { subject: `principal://${pool}/subject/<google.subject>`, project: `principalSet://${pool}/attribute.project/${project}` };
}

/** Lines for a PERMISSION_DENIED: who needs which role where. */
export function diagnosePermissionDenied(claims: TokenClaims, target: GoogleTarget): string[] {
  const who = federatedPrincipals(target, claims);
  const lines = [
    `the federated principal of this job (${who.subject}, as the provider maps google.subject, or a set such as ${who.project} when the provider maps attribute.project)`,
  ];
  if (target.serviceAccount !== '') {
    lines.push(`  needs roles/iam.workloadIdentityUser on the service account ${target.serviceAccount}`);
    lines.push(`  and ${target.serviceAccount} needs roles/artifactregistry.reader on the repository`);
  } else {
    lines.push('  needs roles/artifactregistry.reader on the repository itself (no service_account: the federated token is used directly)');
  }
  lines.push(`likely cause: the binding is missing: gcloud iam service-accounts add-iam-policy-binding ${target.serviceAccount || '<sa>'} --role=roles/iam.workloadIdentityUser --member=${who.project}`);
  return lines;
}
