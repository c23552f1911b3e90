import { describe, expect, it } from 'vitest';
import { decodeTokenClaims, describeClaims, isExpiringWithin, mintAudience } from '../../../src/job-token/claims.ts';

function jwt(payload: unknown): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part(payload)}.c2ln`;
}

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const nowS = NOW / 1000;
const claims = { iss: 'https://oidc.circleci.com/org/ORG', aud: 'ORG', sub: 'org/ORG/project/P/user/U', exp: nowS + 600, iat: nowS - 3000 };

describe('decodeTokenClaims (unverified)', () => {
  it('returns the payload', () => {
    expect(decodeTokenClaims(jwt(claims))).toEqual(claims);
  });
  it.each(['', 'abc', 'a.b', 'a.b.c.d', 'a..c', 'a.!!!.c', `x.${Buffer.from('not json').toString('base64url')}.y`, `x.${Buffer.from('[1]').toString('base64url')}.y`])(
    'refuses %j with a message that does not echo it',
    (token) => {
      let message = '';
      try {
        decodeTokenClaims(token);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/OIDC token/);
      if (token.length > 3) expect(message).not.toContain(token);
    },
  );
});

describe('isExpiringWithin', () => {
  it.each([
    [nowS + 600, 60, false],
    [nowS + 60, 60, true],
    [nowS + 61, 60, false],
    [nowS - 1, 0, true],
    [undefined, 60, true],
  ])('exp=%s within %s s → %s', (exp, seconds, expected) => {
    expect(isExpiringWithin(jwt({ ...claims, exp }), seconds, NOW)).toBe(expected);
  });
  it('treats an unreadable token as expiring', () => {
    expect(isExpiringWithin('garbage', 60, NOW)).toBe(true);
  });
});

describe('describeClaims', () => {
  it('shows iss, aud, sub and exp, never anything else', () => {
    expect(describeClaims({ ...claims, 'oidc.circleci.com/vcs-origin': 'x' }, NOW)).toBe(
      'iss=https://oidc.circleci.com/org/ORG aud=ORG sub=org/ORG/project/P/user/U exp=12:10:00 UTC (in 600 s)',
    );
    expect(describeClaims({ exp: nowS - 30 }, NOW)).toBe('iss=(none) aud=(none) sub=(none) exp=11:59:30 UTC (expired 30 s ago)');
  });
});

describe('mintAudience (the one rule a re-mint at login and a refresh use)', () => {
  const env = { CIRCLE_ORGANIZATION_ID: 'org-id' };
  it('takes the asked-for aud first, then the token’s first aud, then the org id', () => {
    expect(mintAudience('asked', { aud: ['first', 'second'] }, env)).toBe('asked');
    expect(mintAudience('', { aud: ['first', 'second'] }, env)).toBe('first');
    expect(mintAudience('', { aud: 'only' }, env)).toBe('only');
    expect(mintAudience('', {}, env)).toBe('org-id');
    expect(mintAudience('', { aud: '' }, env)).toBe('org-id');
    expect(mintAudience('', {}, {})).toBe('');
  });
});
