import type { LoginToken } from '../../clouds/provider.ts';
import type { Env } from '../../core/env.ts';
import type { Reporter } from '../../core/output.ts';
import { runProcess } from '../../core/process.ts';
import type { RetryDeps } from '../../core/retry.ts';
import { claimsDetail, decodeTokenClaims, obtainOidcToken, type TokenClaims } from '../../job-token/index.ts';

/**
 * The job's token for a login, as both OIDC logins take it: obtained (minted with `audience` when
 * set), kept out of every line, why it was replaced said, its claims shown with REGAUTH_DEBUG=1.
 */
export async function loginToken(env: Env, reporter: Reporter, retry: RetryDeps, audience: string, claimsNote: (claims: TokenClaims) => string = () => ''): Promise<LoginToken> {
  const first = await obtainOidcToken({ env, run: runProcess, retryDeps: retry, ...(audience ? { audience } : {}) });
  reporter.redactor.add(first.token);
  if (first.replaced) reporter.line(`regauth: ${first.replaced}`);
  if (first.mintFailed) reporter.line(`regauth: ${first.mintFailed}; trying the job's token`);
  const claims = decodeTokenClaims(first.token);
  reporter.detail(`regauth: OIDC token from ${first.source}: ${claimsDetail(claims, Date.now())}${claimsNote(claims)}`);
  return { first, claims };
}
