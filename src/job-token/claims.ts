import { UserError } from '../core/errors.ts';
import { remote } from '../core/output.ts';
import { clockTime } from '../core/units.ts';
import type { Env } from '../core/env.ts';

/** The non-secret claims of a web identity token; the token itself is the secret. */
export interface TokenClaims {
  iss?: string;
  aud?: string | string[];
  sub?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  [claim: string]: unknown;
}

/** Decodes a JWT's payload WITHOUT verifying it (STS verifies); only to show and diagnose claims. */
export function decodeTokenClaims(token: string): TokenClaims {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts.every((part) => /^[\w-]*$/.test(part)) || parts[1] === '') {
    throw new UserError('the OIDC token is not a JWT (three base64url parts separated by dots): check CIRCLE_OIDC_TOKEN_V2 / CIRCLE_OIDC_TOKEN');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    throw new UserError('the OIDC token payload is not JSON: check CIRCLE_OIDC_TOKEN_V2 / CIRCLE_OIDC_TOKEN');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new UserError('the OIDC token payload is not a JSON object: check CIRCLE_OIDC_TOKEN_V2 / CIRCLE_OIDC_TOKEN');
  }
  return payload as TokenClaims;
}

/** True when the token expires within `seconds` of `nowMs` (or cannot be read, or has no exp). */
export function isExpiringWithin(token: string, seconds: number, nowMs: number): boolean {
  let claims: TokenClaims;
  try {
    claims = decodeTokenClaims(token);
  } catch {
    return true;
  }
  if (typeof claims.exp !== 'number') return true;
  return claims.exp * 1000 <= nowMs + seconds * 1000;
}

export function audiences(claims: TokenClaims): string[] {
  if (Array.isArray(claims.aud)) return claims.aud.filter((a): a is string => typeof a === 'string');
  return typeof claims.aud === 'string' ? [claims.aud] : [];
}

/**
 * The aud to mint a fresh job token with (a re-mint at login, a refresh later): the one the user
 * asked for, else the token's own, else the org id (CircleCI's default aud). Empty: none known.
 */
export function mintAudience(given: string, claims: TokenClaims, env: Env): string {
  return given || audiences(claims)[0] || env.CIRCLE_ORGANIZATION_ID || '';
}

/** `iss=… aud=… sub=… exp=… (expired 2 min ago)`: safe to print. */
export function describeClaims(claims: TokenClaims, nowMs: number): string {
  const parts = [`iss=${claims.iss ?? '(none)'}`, `aud=${audiences(claims).join(',') || '(none)'}`, `sub=${claims.sub ?? '(none)'}`];
  if (typeof claims.exp === 'number') {
    const delta = Math.round(claims.exp - nowMs / 1000);
    const when = clockTime(new Date(claims.exp * 1000));
    parts.push(`exp=${when} (${delta > 0 ? `in ${delta} s` : `expired ${-delta} s ago`})`);
  } else parts.push('exp=(none)');
  return parts.join(' ');
}

/** The debug line's claims (REGAUTH_DEBUG=1): the quoted claims and when the token expires. */
export function claimsDetail(claims: TokenClaims, nowMs: number): string {
  const expiry = typeof claims.exp === 'number' && claims.exp * 1000 > nowMs ? ` exp=${clockTime(new Date(claims.exp * 1000))}` : '';
  return `${claimsLine(claims, nowMs)}${expiry}`;
}

/**
 * The claims a failure shows next to what the trust side must allow: `iss="…" aud="…" sub="…"`,
 * and the expiry when it has passed. The values are the issuer's words, so they are quoted as
 * remote text (a long v2 sub may make the line long; regauth's own part stays short).
 */
export function claimsLine(claims: TokenClaims, nowMs: number): string {
  const aud = audiences(claims).join(',');
  const parts = [`iss=${claims.iss ? remote(claims.iss) : '(none)'}`, `aud=${aud ? remote(aud) : '(none)'}`, `sub=${claims.sub ? remote(claims.sub) : '(none)'}`];
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= nowMs) parts.push(`expired at ${clockTime(new Date(claims.exp * 1000))}`);
  return parts.join(' ');
}

/** What a refused web identity token's failure shows: the claims and the trust policy's needs (lines), and the likely cause. */
export interface Diagnosis {
  /** Printed before the failure line, each after `regauth: `. */
  lines: string[];
  /** The likely cause and its fix, for the failure line. */
  cause: string;
}
