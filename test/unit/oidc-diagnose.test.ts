import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/job-token/diagnose.ts';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const ORG = '11111111-2222-3333-4444-555555555555';
const ISS = `https://oidc.circleci.com/org/${ORG}`;
const SUB = `org/${ORG}/project/PROJ/user/USER/vcs-origin/github.com/o/r/vcs-ref/refs/heads/main`;
const ROLE = 'arn:aws:iam::123456789012:role/ci-pull';
const good = { iss: ISS, aud: ORG, sub: SUB, exp: NOW / 1000 + 1800 };

describe('diagnose', () => {
  it('names the principal, action and conditions the trust policy must allow', () => {
    const lines = diagnose(good, ROLE, 'AccessDenied', NOW);
    expect(lines.slice(1, 6)).toEqual([
      `the trust policy of ${ROLE} must allow:`,
      `  principal  Federated arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/${ORG}`,
      '  action     sts:AssumeRoleWithWebIdentity',
      `  condition  StringEquals oidc.circleci.com/org/${ORG}:aud = ${ORG}`,
      `  condition  StringLike   oidc.circleci.com/org/${ORG}:sub = org/${ORG}/project/PROJ/user/* (this token's sub: ${SUB})`,
    ]);
    expect(lines[0]).toMatch(/^token claims: iss=.* aud=.* sub=.* exp=/);
  });

  it.each([
    ['expired token', { ...good, exp: NOW / 1000 - 10 }, 'ExpiredTokenException', /token has expired/],
    ['expired though STS said something else', { ...good, exp: NOW / 1000 - 10 }, 'AccessDenied', /token has expired/],
    ['aud not the org id (InvalidIdentityToken)', { ...good, aud: 'my-audience' }, 'InvalidIdentityToken', /aud \(my-audience\) is not the org id/],
    ['aud not the org id (AccessDenied)', { ...good, aud: 'my-audience' }, 'AccessDenied', /aud condition must name my-audience/],
    ['no provider', good, 'InvalidIdentityToken', /needs an IAM OIDC provider with URL https:\/\/oidc.circleci.com\/org\//],
    ['sub condition', good, 'AccessDenied', /sub condition must match org\//],
    ['rejected claim', good, 'IDPRejectedClaim', /rejected one of these claims/],
  ])('%s', (_name, claims, code, cause) => {
    const lines = diagnose(claims, ROLE, code, NOW);
    expect(lines.at(-1)).toMatch(/^likely cause: /);
    expect(lines.at(-1)).toMatch(cause);
  });

  it('uses the role partition and copes with a malformed role and missing claims', () => {
    expect(diagnose(good, 'arn:aws-cn:iam::123456789012:role/x', undefined, NOW)[2]).toContain('arn:aws-cn:iam::123456789012:oidc-provider/');
    const lines = diagnose({}, 'nonsense', 'AccessDenied', NOW);
    expect(lines[2]).toContain('arn:aws:iam::<account>:oidc-provider/<issuer>');
  });
});
