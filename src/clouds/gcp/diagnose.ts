import { remote } from '../../core/output.ts';
import { claimsLine, describeClaims, type Diagnosis, type TokenClaims } from '../../job-token/index.ts';

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
 * The claims next to what the workload identity provider must accept, and the likely cause, for a
 * failed token exchange: two lines and a cause, so the failure fits in five lines. Pure.
 * `errorCode`/`message` are Google's (already redacted).
 */
export function diagnoseTokenExchange(claims: TokenClaims, target: GoogleTarget, errorCode: string, message: string, nowMs: number = Date.now()): Diagnosis {
  const orgId = orgIdOf(claims.iss);
  const subBytes = byteLength(claims.sub);
  const lines = [
    `the job's token: ${claimsLine(claims, nowMs)} (sub: ${subBytes} bytes)`,
    `workload_identity_provider must accept it: issuer = its iss, allowed audiences include its aud, google.subject mapped to at most ${GOOGLE_SUBJECT_LIMIT} bytes`,
  ];
  const expired = typeof claims.exp === 'number' && claims.exp * 1000 <= nowMs;
  let cause: string;
  if (expired || /expired|stale/i.test(message)) cause = 'the token has expired (CircleCI tokens live 1 h from job start): log in earlier in the job, or set audience so regauth mints a fresh token';
  else if (errorCode === 'invalid_target') cause = 'the pool or provider does not exist, is disabled, or lives in another project: check workload_identity_provider (project number, pool id, provider id)';
  else if (/google\.subject/.test(message) && /127/.test(message)) cause = `the mapped google.subject is over ${GOOGLE_SUBJECT_LIMIT} bytes: CircleCI's v2 sub is ${subBytes} bytes; map it from assertion['oidc.circleci.com/project-id'] (see the README) or provide CIRCLE_OIDC_TOKEN`;
  else if (/audience/i.test(message)) cause = `the provider's allowed audiences do not include the token's aud: add it (CircleCI's default aud is the organization id${orgId ? ` ${orgId}` : ''})`;
  else if (/issuer/i.test(message)) cause = "the provider's issuer URI is not the token's iss: set it to the iss above";
  else if (/attribute condition/i.test(message)) cause = "the provider's attribute condition rejected these claims: compare it with the claims above";
  else if (/signature|key/i.test(message)) cause = "the token's signature does not verify with the issuer's keys: the provider's issuer (or uploaded JWKS) must be the token's issuer";
  else cause = 'compare the claims above with the provider settings';
  return { lines, cause: `${cause}; check the provider ${target.provider}` };
}

/** The principal the pool gives this job, as IAM bindings name it. */
export function federatedPrincipals(target: GoogleTarget, claims: TokenClaims): { subject: string; project: string } {
  const pool = `iam.googleapis.com/projects/${target.projectNumber}/locations/global/workloadIdentityPools/${target.pool}`;
  const project = typeof claims['oidc.circleci.com/project-id'] === 'string' ? claims['oidc.circleci.com/project-id'] : '<project-id>';
  return { subject: `principal://${pool}/subject/<google.subject>`, project: `principalSet://${pool}/attribute.project/${project}` };
}

/** For a PERMISSION_DENIED: the claims, and the binding that lets this job's principal act (the fix, as a command). */
export function diagnosePermissionDenied(claims: TokenClaims, target: GoogleTarget, nowMs: number = Date.now()): Diagnosis {
  const who = federatedPrincipals(target, claims);
  const token = `the job's token: ${claimsLine(claims, nowMs)}`;
  if (target.serviceAccount === '') {
    return {
      lines: [token, `the job's principal set ${remote(who.project)} needs roles/artifactregistry.reader on the repository`],
      cause: 'without service_account the federated token is used directly: grant the principal set the reader role; check service_account',
    };
  }
  return {
    lines: [token, `fix: gcloud iam service-accounts add-iam-policy-binding ${target.serviceAccount} --role=roles/iam.workloadIdentityUser --member=${remote(who.project)}`],
    cause: `this job's principal may not impersonate ${target.serviceAccount} (or it does not exist): add the binding above; check service_account`,
  };
}
