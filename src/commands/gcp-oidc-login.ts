import { exportHelperSourcedFile, exportTokenSourcedFile } from '../clouds/gcp/credential-file.ts';
import { isolateGcloudConfig } from '../clouds/gcp/gcloud-config.ts';
import { GOOGLE_REGISTRY_USERNAME, gcpProvider as gcp } from '../clouds/gcp/provider.ts';
import type { CommandMain } from '../core/cli.ts';
import type { Env } from '../core/env.ts';
import { loginLine } from '../core/output.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';
import { clockTime } from '../core/units.ts';
import type { EngineVerdicts } from '../docker/engine-auth.ts';
import { loginWithRetry } from '../docker/login.ts';
import { mintAudience } from '../job-token/index.ts';
import { mintAlongside, runHelper, serve, startServing } from '../refresh/index.ts';
import { loginToken } from './shared/job-token.ts';

/** regauth/gcp-oidc-login: OIDC token → Google STS → (IAM Credentials) → docker login to each registry. */
export const main: CommandMain = async (env, reporter, retry: RetryDeps = realRetryDeps) => {
  const inputs = gcp.parse(env);
  for (const host of inputs.otherHosts) reporter.line(`regauth: note: ${host} is not an Artifact Registry or gcr.io host; logging in to it as ${GOOGLE_REGISTRY_USERNAME} anyway (a private endpoint?)`);
  const token = await loginToken(env, reporter, retry, inputs.audience, (claims) => ` (sub: ${Buffer.byteLength(claims.sub ?? '')} bytes)`);
  const audience = mintAudience(inputs.audience, token.claims, env);
  // Refresh on: the helper's directory is made while Google answers.
  const preparing = startServing(env, inputs.refresh, audience, gcp.kind);
  const issuedAtMs = Date.now();
  const { minted, registries } = await mintAlongside(preparing, async () => {
    const minted = await gcp.login(inputs, token, { env, reporter, retry });
    return { minted, registries: gcp.registries(inputs, minted) };
  });
  reporter.detail(`regauth: ${minted.kind === 'impersonated' ? `impersonated ${inputs.serviceAccount}` : 'federated token used directly'} through ${inputs.provider.name}, valid until ${clockTime(minted.expiresAt)}`);
  const identity = minted.kind === 'impersonated' ? inputs.serviceAccount : 'the federated principal (no service_account)';

  // Each registry judges the token now (served: by a local engine directly, else through docker login).
  const dockerLogin = async (dockerEnv: Env, renewal: string, engineVerdict?: EngineVerdicts): Promise<void> => {
    for (const target of inputs.registries) {
      const docker = { run: runProcess, env: dockerEnv, ...(engineVerdict ? { engineVerdict } : {}), detail: (line: string) => reporter.detail(line) };
      const { attempts, helperNote } = await loginWithRetry(docker, target, GOOGLE_REGISTRY_USERNAME, minted.accessToken, {
        deps: retry,
        onRetry: (attempt, reason, delay) => reporter.retrying(`docker login to ${target.host}`, attempt, reason, delay),
      });
      if (helperNote) reporter.line(`regauth: ${helperNote}`);
      reporter.line(loginLine(target.host, { identity, renewal }, minted.expiresAt, attempts));
    }
  };
  const served = await serve({
    ...(preparing ? { preparing } : {}),
    env,
    run: runProcess,
    reporter,
    refresh: inputs.refresh,
    audience,
    recipe: gcp.recipe(inputs, audience, registries.map((registry) => registry.host), env),
    registries,
    issuedAtMs,
    lastsUntil: minted.expiresAt,
    dockerLogin: (dockerEnv, engineVerdict) => dockerLogin(dockerEnv, 'renews itself', engineVerdict),
  });
  if (!served) await dockerLogin(env, 'does not renew (refresh: false)');
  // A refresh mints through `circleci run oidc get`, not CIRCLE_OIDC_TOKEN: the v1 fallback cannot repeat.
  if (served && minted.jobToken !== token.first.token) reporter.line(REFRESH_MAPPING_WARNING);

  if (inputs.exportCredentials) {
    if (served) {
      const exported = await exportHelperSourcedFile(env, gcp.target(inputs), { path: served.helperPath, group: served.group });
      reporter.line(
        `regauth: exported an external-account credential file ${exported.credentialFile} (mode 0600; its executable source is docker-credential-regauth, which mints a fresh job token whenever Google's libraries ask); later steps get GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE and GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 through $BASH_ENV`,
      );
    } else {
      const exported = await exportTokenSourcedFile(env, gcp.target(inputs), minted.jobToken);
      reporter.line(
        `regauth: exported an external-account credential file ${exported.credentialFile} (mode 0600; it reads the job token from ${exported.tokenFile}, valid until the token expires); later steps get GOOGLE_APPLICATION_CREDENTIALS and CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE through $BASH_ENV`,
      );
    }
    const gcloud = await isolateGcloudConfig(env);
    reporter.line(
      `regauth: later steps' gcloud keeps its config and token cache in ${gcloud.directory} (CLOUDSDK_CONFIG; the job's own properties copied: ${gcloud.copied} file${gcloud.copied === 1 ? '' : 's'}), which regauth/logout removes`,
    );
  }
  return 0;
};

export const REFRESH_MAPPING_WARNING =
  "regauth: warning: Google took only CIRCLE_OIDC_TOKEN, but a refresh mints its token with `circleci run oidc get`, whose sub may map to a google.subject over 127 bytes as this provider is configured, so refreshes may fail once this token expires; map google.subject from assertion['oidc.circleci.com/project-id'] (narrowed by the attribute condition) to make them work";

/** Entry for `node <bundle> --regauth-helper …` (the refresh half of docker-credential-regauth). */
export const helperMain = (args: readonly string[]): Promise<number> => runHelper(args, { [gcp.kind]: gcp.refresh });
