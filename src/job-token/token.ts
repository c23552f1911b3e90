import { remote } from '../core/output.ts';
import { UserError } from '../core/errors.ts';
import { clockTime } from '../core/units.ts';
import { ProcessStartError, runProcess as realRunProcess, type RunProcess } from '../core/process.ts';
import { realRetryDeps, RetriesExhausted, withRetry, type RetryDeps, type RetryPolicy } from '../core/retry.ts';
import { decodeTokenClaims, isExpiringWithin, mintAudience } from './claims.ts';
import { findAgent, type AgentLookupDeps } from './agent.ts';

export type TokenSource = 'CIRCLE_OIDC_TOKEN_V2' | 'CIRCLE_OIDC_TOKEN' | 'circleci-agent run oidc get' | 'circleci run oidc get';

export interface OidcToken {
  token: string;
  source: TokenSource;
  /** Why the job's own token was not used, when a fresh one was minted in its place. */
  replaced?: string;
  /** Set when the job's token was expiring but minting a fresh one failed: why, for the log. */
  mintFailed?: string;
}

export interface ObtainTokenOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Set: always mint a token with this aud. Empty: use the job's token. */
  audience?: string;
  /** A token expiring within this many seconds is re-minted when the CLI is there. */
  minValiditySeconds?: number;
  now?: () => number;
  run?: RunProcess;
  retryPolicy?: RetryPolicy;
  retryDeps?: RetryDeps;
  agent?: Omit<AgentLookupDeps, 'run'>;
}

const MINT_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 4_000, maxServerWaitMs: 4_000 };
const JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** `circleci-agent run oidc get --claims '{"aud":…}'` (or the agent's `circleci` alias), retried; its stdout is the token (a secret). */
export async function mintOidcToken(audience: string, options: Omit<ObtainTokenOptions, 'audience'>): Promise<string> {
  return (await mintWithAgent(audience, options)).token;
}

async function mintWithAgent(audience: string, options: Omit<ObtainTokenOptions, 'audience'>): Promise<{ token: string; source: TokenSource }> {
  const run = options.run ?? realRunProcess;
  const agent = await findAgent(options.env, { ...options.agent, run });
  if (!agent.found) throw new UserError(`could not mint an OIDC token with aud ${JSON.stringify(audience)}: ${agent.problem}`);
  const source: TokenSource = `${agent.name} run oidc get`;
  const attempt = async (): Promise<string> => {
    const result = await run({ command: agent.command, args: ['run', 'oidc', 'get', '--claims', JSON.stringify({ aud: audience })], env: { ...options.env } });
    const out = result.stdout.trim();
    if (result.exitCode !== 0) throw new Error(`exit code ${result.exitCode}${firstLine(result.stderr)}`);
    if (out === '') throw new Error(`printed no token${firstLine(result.stderr)}`);
    if (!JWT.test(out)) throw new Error('printed something that is not a JWT');
    return out;
  };
  try {
    const { value } = await withRetry(
      attempt,
      (error) => (error instanceof ProcessStartError ? { kind: 'permanent', reason: error.message } : { kind: 'transient', reason: error instanceof Error ? error.message : String(error) }),
      options.retryPolicy ?? MINT_POLICY,
      options.retryDeps ?? realRetryDeps,
    );
    return { token: value, source };
  } catch (error) {
    if (!(error instanceof RetriesExhausted)) throw error;
    const tried = error.attempts > 1 ? ` (${error.attempts} attempts)` : '';
    throw new UserError(`could not mint an OIDC token with aud ${JSON.stringify(audience)}: ${source} ${error.verdict.reason}${tried}; it works only inside a CircleCI job, on a machine or docker executor with the circleci CLI`);
  }
}

function firstLine(text: string): string {
  // Remote text as far as the log is concerned: the Reporter redacts, quotes and cuts it.
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  return line ? `: ${remote(line)}` : '';
}

/**
 * The job's OIDC token: CIRCLE_OIDC_TOKEN_V2, else CIRCLE_OIDC_TOKEN; minted through the agent
 * when an audience is asked for, or when the job's token expires within a minute.
 */
export async function obtainOidcToken(options: ObtainTokenOptions): Promise<OidcToken> {
  const now = options.now ?? Date.now;
  if (options.audience) return await mintWithAgent(options.audience, options);

  const v2 = options.env.CIRCLE_OIDC_TOKEN_V2?.trim();
  const v1 = options.env.CIRCLE_OIDC_TOKEN?.trim();
  const found: OidcToken | undefined = v2 ? { token: v2, source: 'CIRCLE_OIDC_TOKEN_V2' } : v1 ? { token: v1, source: 'CIRCLE_OIDC_TOKEN' } : undefined;
  if (!found) {
    throw new UserError(
      'no OIDC token: CIRCLE_OIDC_TOKEN_V2 and CIRCLE_OIDC_TOKEN are not set; run the step in a CircleCI job (fork pull requests get a token only when secrets are passed to forks), or set audience so regauth mints one',
    );
  }
  decodeTokenClaims(found.token);
  if (!isExpiringWithin(found.token, options.minValiditySeconds ?? 60, now())) return found;
  if (!(await findAgent(options.env, { ...options.agent, run: options.run ?? realRunProcess })).found) return found;
  const claims = decodeTokenClaims(found.token);
  const aud = mintAudience('', claims, options.env);
  if (aud === '') return found;
  const expiredAt = typeof claims.exp === 'number' ? clockTime(new Date(claims.exp * 1000)) : 'an unknown time';
  const stale = `${found.source} expired or expires within ${options.minValiditySeconds ?? 60} s (exp ${expiredAt})`;
  try {
    return { ...(await mintWithAgent(aud, options)), replaced: `${stale}; minted a fresh token with the same aud` };
  } catch (error) {
    // STS gives the verdict on the old token, with the diagnosis; the log says what was tried.
    if (!(error instanceof UserError)) throw error;
    return { ...found, mintFailed: `${stale}, and ${error.message}` };
  }
}
