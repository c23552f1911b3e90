import { parseRoleArn } from './validate.ts';
import { remote } from '../../core/output.ts';
import { audiences, claimsLine, type Diagnosis, type TokenClaims } from '../../job-token/index.ts';

export type { Diagnosis } from '../../job-token/index.ts';

/** Issuer URL without scheme: how IAM names the provider and prefixes condition keys. */
export function providerName(iss: string): string {
  return iss.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** The org id in a CircleCI issuer (…/org/<org-id>), if any. */
function orgIdOf(iss: string | undefined): string | undefined {
  return iss ? /\/org\/([^/]+)$/.exec(iss)?.[1] : undefined;
}

/** org/<org>/project/<project>/user/* from a v1 or v2 sub: a condition that admits every user and ref. */
function suggestedSubPattern(sub: string | undefined): string | undefined {
  const match = sub ? /^(org\/[^/]+\/project\/[^/]+)\/user\//.exec(sub) : null;
  return match ? `${match[1]}/user/*` : sub;
}

/**
 * The token's claims next to what the role's trust policy must allow, and the likely mismatch for
 * `errorCode`: three lines and a cause, so the failure fits in five lines. Pure; prints nothing
 * secret (claims only, never the token). Claim-derived values are quoted as remote text.
 */
export function diagnose(claims: TokenClaims, roleArn: string, errorCode: string | undefined, nowMs: number = Date.now()): Diagnosis {
  const role = parseRoleArn(roleArn);
  const provider = claims.iss ? providerName(claims.iss) : '<issuer>';
  const aud = audiences(claims)[0] ?? '<aud>';
  const orgId = orgIdOf(claims.iss);
  const partition = role?.partition ?? 'aws';
  const lines = [
    `the job's token: ${claimsLine(claims, nowMs)}`,
    `the trust policy of ${roleArn} must allow sts:AssumeRoleWithWebIdentity for Federated ${remote(`arn:${partition}:iam::${role?.account ?? '<account>'}:oidc-provider/${provider}`)}`,
    `  with StringEquals ${remote(`${provider}:aud`)} = ${remote(aud)} and StringLike ${remote(`${provider}:sub`)} = ${remote(suggestedSubPattern(claims.sub) ?? '<sub>')}`,
  ];

  const expired = typeof claims.exp === 'number' && claims.exp * 1000 <= nowMs;
  const audIsOrg = orgId === undefined || audiences(claims).includes(orgId);
  let cause: string;
  if (errorCode === 'ExpiredTokenException' || expired) {
    cause = 'the token has expired (CircleCI tokens live 1 h from job start): log in earlier in the job, or set audience so regauth mints a fresh token';
  } else if (errorCode === 'InvalidIdentityToken') {
    cause = audIsOrg
      ? `account ${role?.account ?? '<account>'} needs an IAM OIDC provider for the token's iss whose audiences include its aud`
      : "the token's aud is not the org id: add it to the OIDC provider's audiences, or leave audience empty to use the default token";
  } else if (errorCode === 'AccessDenied') {
    cause = !audIsOrg
      ? "the token's aud is not the org id: the trust policy's aud condition must name it"
      : "the trust policy's principal, aud or sub condition does not match the token (v2 subs end in /vcs-origin/…/vcs-ref/…: use StringLike with /*)";
  } else if (errorCode === 'IDPRejectedClaim') {
    cause = 'the identity provider rejected one of these claims: compare them with the trust policy above';
  } else {
    cause = 'compare the claims above with the trust policy';
  }
  return { lines, cause: `${cause}; check role_arn's trust policy` };
}
