import {
  externalAccountFilePath,
  GoogleCallError,
  googleFailureWhat,
  isSubjectTooLong,
  jobTokenFilePath,
  jobTokenFileSource,
  mintGoogleAccessToken,
  privateDirectory,
  writeExternalAccountFile,
  type CredentialSource,
  type GoogleAccessToken,
  type GoogleMintDeps,
  type GoogleMintSettings,
} from '../clouds/gcp/index.ts';
import { isolateGcloudConfig } from '../clouds/gcp/gcloud-config.ts';
import type { CommandMain } from '../core/cli.ts';
import { UserError } from '../core/errors.ts';
import { loginLine, type Reporter } from '../core/output.ts';
import { clockTime } from '../core/units.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { exportVariable, record } from '../core/journal.ts';
import { loginWithRetry } from '../docker/login.ts';
import { askLocalEngineEarly } from '../docker/engine-auth.ts';
import { announceServed, dockerEnvWithHelper, gcpSettings, planRefresh, refreshGcp, runHelper, serve, type Served } from '../refresh/index.ts';
import type { Env } from '../inputs/common.ts';
import { parseGcpOidcInputs, type GcpOidcInputs } from '../inputs/gcp.ts';
import { claimsDetail, decodeTokenClaims, mintAudience, obtainOidcToken, type Diagnosis, type TokenClaims } from '../job-token/index.ts';
import { diagnosePermissionDenied, diagnoseTokenExchange, type GoogleTarget } from '../clouds/gcp/diagnose.ts';

/** The user name Artifact Registry and gcr.io take with an OAuth access token. */
const USERNAME = 'oauth2accesstoken';

/**
 * How the credentials stay valid, decided in this one place: served by docker-credential-regauth
 * (refresh on, with a bundle and an audience to mint again), or a fixed password as in version 1.
 */
type Strategy = { kind: 'refresh'; bundle: string; audience: string } | { kind: 'static' };

function credentialStrategy(inputs: GcpOidcInputs, claims: TokenClaims, env: Env, reporter: Reporter): Strategy {
  const audience = mintAudience(inputs.audience, claims, env);
  const plan = planRefresh(inputs.refresh, audience);
  if ('bundle' in plan) return { kind: 'refresh', bundle: plan.bundle, audience };
  if (plan.fallback) reporter.line(`regauth: ${plan.fallback}`);
  return { kind: 'static' };
}

/** regauth/gcp-oidc-login: OIDC token → Google STS → (IAM Credentials) → docker login to each registry. */
export const main: CommandMain = async (env, reporter, retry: RetryDeps = realRetryDeps) => {
  const inputs = parseGcpOidcInputs(env);
  for (const host of inputs.otherHosts) reporter.line(`regauth: note: ${host} is not an Artifact Registry or gcr.io host; logging in to it as ${USERNAME} anyway (a private endpoint?)`);

  const first = await obtainOidcToken({ env, run: runProcess, retryDeps: retry, ...(inputs.audience ? { audience: inputs.audience } : {}) });
  reporter.redactor.add(first.token);
  if (first.replaced) reporter.line(`regauth: ${first.replaced}`);
  if (first.mintFailed) reporter.line(`regauth: ${first.mintFailed}; trying the job's token`);
  const claims = decodeTokenClaims(first.token);
  reporter.detail(`regauth: OIDC token from ${first.source}: ${claimsDetail(claims, Date.now())} (sub: ${Buffer.byteLength(claims.sub ?? '')} bytes)`);

  const settings: GoogleMintSettings = {
    workloadIdentityProvider: inputs.provider.name,
    serviceAccount: inputs.serviceAccount,
    tokenLifetimeSeconds: inputs.tokenLifetimeSeconds,
    endpoints: inputs.endpoints,
  };
  const deps: GoogleMintDeps = {
    retryDeps: retry,
    onSecret: (secret) => reporter.redactor.add(secret),
    onRetry: (operation, attempt, verdict, delay) => reporter.retrying(operation, attempt, verdict.reason, delay),
  };
  const issuedAtMs = Date.now();
  const { token: jobToken, minted } = await mintWithFallback(settings, first.token, first.source, claims, inputs, env, deps, reporter);
  reporter.detail(`regauth: ${minted.kind === 'impersonated' ? `impersonated ${inputs.serviceAccount}` : 'federated token used directly'} through ${inputs.provider.name}, valid until ${clockTime(minted.expiresAt)}`);
  const identity = minted.kind === 'impersonated' ? inputs.serviceAccount : 'the federated principal (no service_account)';

  const strategy = credentialStrategy(inputs, claims, env, reporter);
  // Refresh on: the engine judges the token while the helper is being installed.
  const engineVerdict = strategy.kind === 'refresh' ? askLocalEngineEarly(env, inputs.registries.map((target) => ({ target, username: USERNAME, password: minted.accessToken }))) : undefined;
  const served = strategy.kind === 'refresh' ? await serveRefreshing(inputs, strategy, minted, issuedAtMs, env) : undefined;
  const dockerEnv = served ? dockerEnvWithHelper(env, served) : env;
  for (const target of inputs.registries) {
    const { attempts, helperNote } = await loginWithRetry({ run: runProcess, env: dockerEnv, ...(served && engineVerdict ? { engineVerdict } : {}), detail: (line) => reporter.detail(line) }, target, USERNAME, minted.accessToken, {
      deps: retry,
      onRetry: (attempt, reason, delay) => reporter.retrying(`docker login to ${target.host}`, attempt, reason, delay),
    });
    if (helperNote) reporter.line(`regauth: ${helperNote}`);
    reporter.line(loginLine(target.host, { identity, renewal: served ? 'renews itself' : 'does not renew (refresh: false)' }, minted.expiresAt, attempts));
  }
  if (served) {
    await announceServed(reporter, env, served, minted.expiresAt);
    // A refresh mints through `circleci run oidc get`, not CIRCLE_OIDC_TOKEN: the v1 fallback cannot repeat.
    if (jobToken !== first.token) reporter.line(REFRESH_MAPPING_WARNING);
  }

  if (inputs.exportCredentials) {
    if (served) await exportRefreshing(env, settings, served, reporter);
    else await exportStatic(env, settings, jobToken, reporter);
    const gcloud = await isolateGcloudConfig(env);
    reporter.line(
      `regauth: later steps' gcloud keeps its config and token cache in ${gcloud.directory} (CLOUDSDK_CONFIG; the job's own properties copied: ${gcloud.copied} file${gcloud.copied === 1 ? '' : 's'}), which regauth/logout removes`,
    );
  }
  return 0;
};

export const REFRESH_MAPPING_WARNING =
  "regauth: warning: Google took only CIRCLE_OIDC_TOKEN, but a refresh mints its token with `circleci run oidc get`, whose sub may map to a google.subject over 127 bytes as this provider is configured, so refreshes may fail once this token expires; map google.subject from assertion['oidc.circleci.com/project-id'] (narrowed by the attribute condition) to make them work";

/** refresh on: the registries are served by docker-credential-regauth, which mints again near expiry. */
async function serveRefreshing(inputs: GcpOidcInputs, strategy: { bundle: string; audience: string }, minted: GoogleAccessToken, issuedAtMs: number, env: Env): Promise<Served> {
  const hosts = inputs.registries.map((target) => target.host);
  return serve({
    env,
    run: runProcess,
    recipe: {
      kind: 'gcp',
      audience: strategy.audience,
      hosts,
      provider: inputs.provider.name,
      serviceAccount: inputs.serviceAccount,
      tokenLifetimeSeconds: inputs.tokenLifetimeSeconds,
      settings: gcpSettings(env),
    },
    registries: hosts.map((host) => ({ host, username: USERNAME, secret: minted.accessToken, expiresAt: minted.expiresAt })),
    bundleSource: strategy.bundle,
    issuedAtMs,
  });
}

const EXECUTABLE_TIMEOUT_MS = 30_000;

/** refresh on: the credential file's source is the helper, which mints a fresh job token when asked. */
async function exportRefreshing(env: Env, settings: GoogleMintSettings, served: Served, reporter: Reporter): Promise<void> {
  // Google's libraries split the command on spaces: a path with one cannot be named there.
  if (/\s/.test(served.helperPath)) throw new UserError(`export_credentials with refresh needs the credential helper at a path without spaces, but it is ${served.helperPath}; set refresh: false or use a HOME without spaces`);
  const directory = await privateDirectory(env);
  const credentialFile = externalAccountFilePath(directory);
  // On record before the file exists: a step killed while writing leaves nothing logout cannot see.
  await record(env, { kind: 'file', path: credentialFile });
  const source: CredentialSource = { executable: { command: `${served.helperPath} google-executable ${served.group}`, timeout_millis: EXECUTABLE_TIMEOUT_MS } };
  const exported = await writeExternalAccountFile(env, directory, settings, source);
  for (const { name, value } of exported.exports) await exportVariable(env, name, value);
  reporter.line(
    `regauth: exported an external-account credential file ${exported.credentialFile} (mode 0600; its executable source is docker-credential-regauth, which mints a fresh job token whenever Google's libraries ask); later steps get GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE and GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 through $BASH_ENV`,
  );
}

/** refresh off: as version 1, the job token in a 0600 file the credential file reads (valid while it is). */
async function exportStatic(env: Env, settings: GoogleMintSettings, jobToken: string, reporter: Reporter): Promise<void> {
  const directory = await privateDirectory(env);
  for (const path of [jobTokenFilePath(directory), externalAccountFilePath(directory)]) await record(env, { kind: 'file', path });
  const { source, file } = await jobTokenFileSource(directory, jobToken);
  const exported = await writeExternalAccountFile(env, directory, settings, source);
  for (const { name, value } of exported.exports) await exportVariable(env, name, value);
  reporter.line(
    `regauth: exported an external-account credential file ${exported.credentialFile} (mode 0600; it reads the job token from ${file}, valid until the token expires); later steps get GOOGLE_APPLICATION_CREDENTIALS and CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE through $BASH_ENV`,
  );
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
  let diagnosis: Diagnosis;
  if (error.operation === 'sts.googleapis.com token exchange') diagnosis = diagnoseTokenExchange(claims, target, error.code, error.classification.message);
  else if (error.code === 'PERMISSION_DENIED') diagnosis = diagnosePermissionDenied(claims, target);
  else return error;
  // The claims next to what must allow them, then one closing line with Google's words once.
  for (const line of diagnosis.lines) reporter.line(`regauth: ${line}`);
  return new UserError(`${googleFailureWhat(error.operation, error.classification, error.attempts)}; likely cause: ${diagnosis.cause}`);
}

/** Entry for `node <bundle> --regauth-helper …` (the refresh half of docker-credential-regauth). */
export const helperMain = (args: readonly string[]): Promise<number> => runHelper(args, { gcp: refreshGcp });
