import {
  GoogleCallError,
  isSubjectTooLong,
  jobTokenFileSource,
  mintGoogleAccessToken,
  privateDirectory,
  writeExternalAccountFile,
  type CredentialSource,
  type GoogleAccessToken,
  type GoogleMintDeps,
  type GoogleMintSettings,
} from '../clouds/gcp/index.ts';
import type { CommandMain } from '../core/cli.ts';
import { UserError } from '../core/errors.ts';
import { isoSeconds, seconds, type Reporter } from '../core/output.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { loginWithRetry, rememberSecretFile } from '../docker/login.ts';
import type { Env } from '../inputs/common.ts';
import { parseGcpOidcInputs, type GcpOidcInputs } from '../inputs/gcp.ts';
import { decodeTokenClaims, describeClaimsForGoogle, diagnosePermissionDenied, diagnoseTokenExchange, obtainOidcToken, type GoogleTarget, type TokenClaims } from '../job-token/index.ts';

/** The user name Artifact Registry and gcr.io take with an OAuth access token. */
const USERNAME = 'oauth2accesstoken';

/**
 * How the credentials stay valid. The one place that decides it: the refreshing docker credential
 * helper plugs in here. Until it does, `refresh: true` logs in exactly as `refresh: false` does
 * (a static login, and a file-sourced export).
 */
function credentialStrategy(_inputs: GcpOidcInputs): 'static' {
  return 'static';
}

/** regauth/gcp-oidc-login: OIDC token → Google STS → (IAM Credentials) → docker login to each registry. */
export const main: CommandMain = async (env, reporter, retry: RetryDeps = realRetryDeps) => {
  const inputs = parseGcpOidcInputs(env);
  for (const host of inputs.otherHosts) reporter.line(`regauth: note: ${host} is not an Artifact Registry or gcr.io host; logging in to it as ${USERNAME} anyway (a private endpoint?)`);
  const strategy = credentialStrategy(inputs);

  const first = await obtainOidcToken({ env, run: runProcess, retryDeps: retry, ...(inputs.audience ? { audience: inputs.audience } : {}) });
  reporter.redactor.add(first.token);
  if (first.replaced) reporter.line(`regauth: ${first.replaced}`);
  if (first.mintFailed) reporter.line(`regauth: ${first.mintFailed}; trying the job's token`);
  const claims = decodeTokenClaims(first.token);
  reporter.line(`regauth: OIDC token from ${first.source}: ${describeClaimsForGoogle(claims, Date.now())}`);

  const settings: GoogleMintSettings = {
    workloadIdentityProvider: inputs.provider.name,
    serviceAccount: inputs.serviceAccount,
    tokenLifetimeSeconds: inputs.tokenLifetimeSeconds,
    endpoints: inputs.endpoints,
  };
  const deps: GoogleMintDeps = {
    retryDeps: retry,
    onSecret: (secret) => reporter.redactor.add(secret),
    onRetry: (operation, attempt, verdict, delay) => reporter.line(`regauth: ${operation} failed (attempt ${attempt}: ${verdict.reason}); retrying in ${seconds(delay)}`),
  };
  const { token: jobToken, minted } = await mintWithFallback(settings, first.token, first.source, claims, inputs, env, deps, reporter);
  reporter.line(
    minted.kind === 'impersonated'
      ? `regauth: impersonated ${inputs.serviceAccount} through ${inputs.provider.name}; access token valid until ${isoSeconds(minted.expiresAt)}`
      : `regauth: federated token from ${inputs.provider.name} (no service_account: used directly); valid until ${isoSeconds(minted.expiresAt)}`,
  );

  for (const target of inputs.registries) {
    const { attempts, helperNote } = await loginWithRetry({ run: runProcess, env }, target, USERNAME, minted.accessToken, {
      deps: retry,
      onRetry: (attempt, reason, delay) => reporter.line(`regauth: docker login to ${target.host} failed (attempt ${attempt}: ${reason}); retrying in ${seconds(delay)}`),
    });
    if (helperNote) reporter.line(`regauth: ${helperNote}`);
    reporter.line(`regauth: logged in to ${target.host} as ${USERNAME} (token valid until ${isoSeconds(minted.expiresAt)})${attempts > 1 ? ` after ${attempts} attempts` : ''}`);
  }

  if (inputs.exportCredentials) {
    const directory = await privateDirectory(env);
    const { source, file } = strategy === 'static' ? await jobTokenFileSource(directory, jobToken) : await unreachable(strategy);
    await rememberSecretFile(env, file);
    const exported = await writeExternalAccountFile(env, directory, settings, source);
    for (const written of exported.files) await rememberSecretFile(env, written);
    reporter.line(
      `regauth: exported an external-account credential file ${exported.credentialFile} (mode 0600; it reads the job token from ${file}, valid until the token expires); later steps get GOOGLE_APPLICATION_CREDENTIALS and CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE through $BASH_ENV`,
    );
  }
  return 0;
};

function unreachable(strategy: never): Promise<{ source: CredentialSource; file: string }> {
  throw new Error(`no credential source for strategy ${String(strategy)}`);
}

/**
 * The mint, and the one retry with another token Google allows: a v2 token whose sub maps to a
 * google.subject over 127 bytes is swapped for the job's v1 token (whose sub fits) when there is one.
 */
async function mintWithFallback(
  settings: GoogleMintSettings,
  token: string,
  source: string,
  claims: TokenClaims,
  inputs: GcpOidcInputs,
  env: Env,
  deps: GoogleMintDeps,
  reporter: Reporter,
): Promise<{ token: string; minted: GoogleAccessToken }> {
  try {
    return { token, minted: await mintGoogleAccessToken(settings, token, deps) };
  } catch (error) {
    const v1 = env.CIRCLE_OIDC_TOKEN?.trim();
    if (!(error instanceof GoogleCallError && isSubjectTooLong(error.classification) && source !== 'CIRCLE_OIDC_TOKEN' && v1 && v1 !== token)) throw diagnosed(error, claims, inputs, reporter);
    reporter.redactor.add(v1);
    let v1Claims: TokenClaims;
    try {
      v1Claims = decodeTokenClaims(v1);
    } catch {
      throw diagnosed(error, claims, inputs, reporter);
    }
    reporter.line(`regauth: Google refused ${source}: its sub (${Buffer.byteLength(claims.sub ?? '')} bytes) maps to a google.subject over 127 bytes; exchanging CIRCLE_OIDC_TOKEN (sub ${Buffer.byteLength(v1Claims.sub ?? '')} bytes) instead`);
    try {
      return { token: v1, minted: await mintGoogleAccessToken(settings, v1, deps) };
    } catch (second) {
      throw diagnosed(second, v1Claims, inputs, reporter);
    }
  }
}

/** Prints what the provider (or the bindings) must have, and returns the failure's one line. */
function diagnosed(error: unknown, claims: TokenClaims, inputs: GcpOidcInputs, reporter: Reporter): unknown {
  if (!(error instanceof GoogleCallError) || error.kind === 'transient') return error;
  const target: GoogleTarget = { provider: inputs.provider.name, projectNumber: inputs.provider.projectNumber, pool: inputs.provider.pool, serviceAccount: inputs.serviceAccount };
  let lines: string[];
  if (error.operation === 'sts.googleapis.com token exchange') {
    // The claims were printed already; the rest names what the provider must have.
    lines = diagnoseTokenExchange(claims, target, error.code, error.classification.message).filter((line) => !line.startsWith('token claims:'));
  } else if (error.code === 'PERMISSION_DENIED') {
    lines = diagnosePermissionDenied(claims, target);
  } else {
    return error;
  }
  for (const line of lines) reporter.line(`regauth: ${line}`);
  return new UserError(`${error.message}; ${lines[lines.length - 1] ?? ''}`);
}
