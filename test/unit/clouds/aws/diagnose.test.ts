import { describe, expect, it } from 'vitest';
import { Reporter, type Sink } from '../../../../src/core/output.ts';
import { diagnose } from '../../../../src/clouds/aws/diagnose.ts';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const ORG = '11111111-2222-3333-4444-555555555555';
const ISS = `https://oidc.circleci.com/org/${ORG}`;
const SUB = `org/${ORG}/project/PROJ/user/USER/vcs-origin/github.com/o/r/vcs-ref/refs/heads/main`;
const ROLE = 'arn:aws:iam::123456789012:role/ci-pull';
const good = { iss: ISS, aud: ORG, sub: SUB, exp: NOW / 1000 + 1800 };

/** The lines as the Reporter prints them (remote text quoted). */
function printed(lines: string[]): string[] {
  const out: string[] = [];
  const sink: Sink = { write: (text) => out.push(text.trimEnd()) };
  const reporter = new Reporter(undefined, sink, sink);
  for (const line of lines) reporter.line(`regauth: ${line}`);
  return out;
}

/** A line's own text: without the quoted remote segments it carries. */
const own = (line: string) => line.replace(/"(?:[^"\\]|\\.)*"/g, '""');

describe('diagnose', () => {
  it('shows the claims and the principal, action and conditions the trust policy must allow, in three lines', () => {
    const { lines, cause } = diagnose(good, ROLE, 'AccessDenied', NOW);
    expect(printed(lines)).toEqual([
      `regauth: the job's token: iss="${ISS}" aud="${ORG}" sub="${SUB}"`,
      `regauth: the trust policy of ${ROLE} must allow sts:AssumeRoleWithWebIdentity for Federated "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/${ORG}"`,
      `regauth:   with StringEquals "oidc.circleci.com/org/${ORG}:aud" = "${ORG}" and StringLike "oidc.circleci.com/org/${ORG}:sub" = "org/${ORG}/project/PROJ/user/*"`,
    ]);
    expect(cause).toMatch(/sub condition does not match/);
    expect(cause).toMatch(/check role_arn's trust policy$/);
    for (const line of printed(lines)) expect(own(line).length).toBeLessThanOrEqual(160);
  });

  it.each([
    ['expired token', { ...good, exp: NOW / 1000 - 10 }, 'ExpiredTokenException', /token has expired/],
    ['expired though STS said something else', { ...good, exp: NOW / 1000 - 10 }, 'AccessDenied', /token has expired/],
    ['aud not the org id (InvalidIdentityToken)', { ...good, aud: 'my-audience' }, 'InvalidIdentityToken', /aud is not the org id: add it to the OIDC provider's audiences/],
    ['aud not the org id (AccessDenied)', { ...good, aud: 'my-audience' }, 'AccessDenied', /aud condition must name it/],
    ['no provider', good, 'InvalidIdentityToken', /needs an IAM OIDC provider for the token's iss/],
    ['sub condition', good, 'AccessDenied', /sub condition does not match/],
    ['rejected claim', good, 'IDPRejectedClaim', /rejected one of these claims/],
  ])('%s', (_name, claims, code, cause) => {
    expect(diagnose(claims, ROLE, code, NOW).cause).toMatch(cause);
  });

  it('shows an expired token as such', () => {
    expect(diagnose({ ...good, exp: NOW / 1000 - 10 }, ROLE, 'ExpiredTokenException', NOW).lines[0]).toMatch(/expired at 11:59:50 UTC$/);
  });

  it('uses the role partition and copes with a malformed role and missing claims', () => {
    expect(diagnose(good, 'arn:aws-cn:iam::123456789012:role/x', undefined, NOW).lines[1]).toContain('arn:aws-cn:iam::123456789012:oidc-provider/');
    const { lines } = diagnose({}, 'nonsense', 'AccessDenied', NOW);
    expect(lines[0]).toBe("the job's token: iss=(none) aud=(none) sub=(none)");
    expect(lines[1]).toContain('arn:aws:iam::<account>:oidc-provider/<issuer>');
  });
});
