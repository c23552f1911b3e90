import { parseRoleArn } from '../clouds/aws/validate.ts';
import { audiences, describeClaims, type TokenClaims } from './claims.ts';

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
 * Lines naming what the role's trust policy must allow for this token, and the likely
 * mismatch for `errorCode`. Pure; prints nothing secret (claims only, never the token).
 */
export function diagnose(claims: TokenClaims, roleArn: string, errorCode: string | undefined, nowMs: number = Date.now()): string[] {
  const lines = [`token claims: ${describeClaims(claims, nowMs)}`];
  const role = parseRoleArn(roleArn);
  const provider = claims.iss ? providerName(claims.iss) : '<issuer>';
  const aud = audiences(claims)[0] ?? '<aud>';
  const orgId = orgIdOf(claims.iss);
  const partition = role?.partition ?? 'aws';
  lines.push(`the trust policy of ${roleArn} must allow:`);
  lines.push(`  principal  Federated arn:${partition}:iam::${role?.account ?? '<account>'}:oidc-provider/${provider}`);
  lines.push('  action     sts:AssumeRoleWithWebIdentity');
  lines.push(`  condition  StringEquals ${provider}:aud = ${aud}`);
  lines.push(`  condition  StringLike   ${provider}:sub = ${suggestedSubPattern(claims.sub) ?? '<sub>'} (this token's sub: ${claims.sub ?? '(none)'})`);

  const expired = typeof claims.exp === 'number' && claims.exp * 1000 <= nowMs;
  const audIsOrg = orgId === undefined || audiences(claims).includes(orgId);
  let cause: string;
  if (errorCode === 'ExpiredTokenException' || expired) {
    cause = 'the token has expired (CircleCI tokens live 1 h from job start): log in earlier in the job, or set audience so regauth mints a fresh token';
  } else if (errorCode === 'InvalidIdentityToken') {
    cause = audIsOrg
      ? `account ${role?.account ?? '<account>'} needs an IAM OIDC provider with URL ${claims.iss ?? '<issuer>'} whose audiences include ${aud}`
      : `the token's aud (${aud}) is not the org id (${orgId ?? '?'}): add ${aud} to the OIDC provider's audiences, or leave audience empty to use the default token`;
  } else if (errorCode === 'AccessDenied') {
    cause = !audIsOrg
      ? `the token's aud (${aud}) is not the org id (${orgId ?? '?'}): the trust policy's aud condition must name ${aud}`
      : `the trust policy's principal, aud or sub condition does not match: its sub condition must match ${claims.sub ?? '(none)'} (v2 tokens append /vcs-origin/…/vcs-ref/…; StringEquals on a v1 sub fails)`;
  } else if (errorCode === 'IDPRejectedClaim') {
    cause = 'the identity provider rejected one of these claims: compare them with the trust policy above';
  } else {
    cause = 'compare the claims above with the trust policy';
  }
  lines.push(`likely cause: ${cause}`);
  return lines;
}
