/**
 * When a cached credential stops being served from the cache: 5 minutes before it expires, or
 * half its lifetime when that is shorter. Every lifetime regauth meets in a job is 10 minutes or
 * more (STS ≥ 900 s, Google ≥ 600 s, ECR 12 h), so the contract's 5 minutes always applies; only
 * credentials minted for seconds (the tests' local clouds) get the shorter margin, which is how
 * the tests exercise expiry without a test-only switch.
 */
export const REFRESH_MARGIN_SECONDS = 300;

export function refreshAtSeconds(issuedAtMs: number, expiresAtMs: number): number {
  const lifetime = Math.max(0, (expiresAtMs - issuedAtMs) / 1000);
  const margin = Math.min(REFRESH_MARGIN_SECONDS, lifetime / 2);
  return Math.floor(expiresAtMs / 1000 - margin);
}
