import { assumeRoleWithWebIdentity, AwsCallError, awsFailureWhat, type AssumeRoleInput, type AwsCredentials } from '../clouds/aws/index.ts';
import { assertAwsConfigWritable, exportProfile, staticCredentialsPath, writeStaticCredentials } from '../clouds/aws/profile.ts';
import type { CommandMain } from '../core/cli.ts';
import { fetchEcrLogins } from '../clouds/aws/ecr-login.ts';
import { dockerLoginEcr, loginToEcrRegistries } from './shared/ecr-docker-login.ts';
import { announceServed, awsSettings, dockerEnvWithHelper, planRefresh, refreshAwsEcr, refreshingCredentialProcess, runHelper, serve } from '../refresh/index.ts';
import { UserError } from '../core/errors.ts';
import { parseRegistryHost, type RegistryTarget } from '../registry/host.ts';
import { askLocalEngineEarly } from '../docker/engine-auth.ts';
import { parseEcrOidcInputs } from '../inputs/ecr.ts';
import type { Env } from '../inputs/common.ts';
import { claimsDetail, mintAudience, decodeTokenClaims, findAgent, mintOidcToken, obtainOidcToken } from '../job-token/index.ts';
import { diagnose } from '../clouds/aws/diagnose.ts';
import type { Reporter } from '../core/output.ts';
import { clockTime } from '../core/units.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';

/** regauth/ecr-oidc-login: OIDC token → STS AssumeRoleWithWebIdentity → ECR → docker login. */
export const main: CommandMain = async (env, reporter, retry: RetryDeps = realRetryDeps) => {
  const inputs = parseEcrOidcInputs(env);
  if (inputs.exportCredentials) await assertAwsConfigWritable(env);
  const first = await obtainOidcToken({ env, run: runProcess, retryDeps: retry, ...(inputs.audience ? { audience: inputs.audience } : {}) });
  reporter.redactor.add(first.token);
  const claims = decodeTokenClaims(first.token);
  if (first.replaced) reporter.line(`regauth: ${first.replaced}`);
  if (first.mintFailed) reporter.line(`regauth: ${first.mintFailed}; trying the job's token`);
  reporter.detail(`regauth: OIDC token from ${first.source}: ${claimsDetail(claims, Date.now())}`);
  // Re-minting needs CircleCI's job agent; without it STS's verdict (and the diagnosis) stands.
  const reauth = !first.mintFailed && (await findAgent(env)).found ? remint(mintAudience(inputs.audience, claims, env), env, reporter, retry) : undefined;

  let assumed;
  try {
    assumed = await assumeRoleWithWebIdentity({
      region: inputs.region,
      roleArn: inputs.roleArn,
      sessionName: inputs.roleSessionName,
      durationSeconds: inputs.sessionDurationSeconds,
      token: first.token,
      ...(reauth ? { reauth } : {}),
      retry: { deps: retry, onRetry: (attempt, verdict, delay) => reporter.retrying('sts:AssumeRoleWithWebIdentity', attempt, verdict.reason, delay) },
    });
  } catch (error) {
    if (error instanceof AwsCallError && error.kind !== 'transient') {
      // The claims next to what the role's trust policy must allow, then one closing line: five in all.
      const { lines, cause } = diagnose(claims, inputs.roleArn, error.code);
      for (const line of lines) reporter.line(`regauth: ${line}`);
      throw new UserError(`${awsFailureWhat(error.operation, error.classification, error.attempts)}; likely cause: ${cause}`);
    }
    throw error;
  }
  const { credentials } = assumed;
  reporter.redactor.add(credentials.secretAccessKey);
  reporter.redactor.add(credentials.sessionToken);
  reporter.redactor.add(assumed.token);
  reporter.detail(`regauth: assumed ${inputs.roleArn}, credentials valid until ${clockTime(credentials.expiration)}`);

  const audience = mintAudience(inputs.audience, claims, env);
  const plan = planRefresh(inputs.refresh, audience);
  if ('fallback' in plan && plan.fallback) reporter.line(`regauth: ${plan.fallback}`);
  if ('bundle' in plan) {
    await serveRefreshing(inputs, credentials, audience, plan.bundle, env, reporter, retry);
    return 0;
  }

  await loginToEcrRegistries(inputs, credentials, { docker: { run: runProcess, env }, reporter, retry, identity: inputs.roleArn, renewal: 'does not renew (refresh: false)' });

  if (inputs.exportCredentials) {
    const credentialProcess = await writeStaticCredentials(env, inputs.profile, credentials);
    await exportAwsProfile(env, inputs, credentialProcess, reporter, `its keys are the ones from this login, in ${staticCredentialsPath(env, inputs.profile)} (mode 0600), valid until ${clockTime(credentials.expiration)}`);
  }
  return 0;
};

/** refresh: true — the registries (and an exported profile) are served by docker-credential-regauth. */
async function serveRefreshing(
  inputs: ReturnType<typeof parseEcrOidcInputs>,
  credentials: Required<AwsCredentials>,
  audience: string,
  source: string,
  env: Env,
  reporter: Reporter,
  retry: RetryDeps,
): Promise<void> {
  const issuedAtMs = Date.now();
  const logins = await fetchEcrLogins(inputs, credentials, { reporter, retry });
  const targets: RegistryTarget[] = [];
  for (const login of logins) {
    const target = parseRegistryHost(login.registry);
    if ('error' in target) throw new UserError(`ECR answered a proxyEndpoint host that ${target.error}; nothing was logged in to it`);
    targets.push(target);
  }
  const hosts = targets.map((target) => target.host);
  // The engine judges the passwords while the helper is being installed.
  const engineVerdict = askLocalEngineEarly(env, logins.map((login, index) => ({ target: targets[index] as RegistryTarget, username: login.username, password: login.password })));
  const served = await serve({
    env,
    run: runProcess,
    recipe: {
      kind: 'aws-ecr',
      audience,
      hosts,
      roleArn: inputs.roleArn,
      region: inputs.region,
      accountIds: inputs.accountIds,
      includePublic: inputs.includePublic,
      sessionName: inputs.roleSessionName,
      durationSeconds: inputs.sessionDurationSeconds,
      settings: awsSettings(env),
    },
    registries: logins.map((login, index) => ({ host: hosts[index] ?? login.registry, username: login.username, secret: login.password, expiresAt: login.expiresAt })),
    awsCredentials: credentials,
    bundleSource: source,
    issuedAtMs,
  });
  // Judged as with refresh: false, so a refusal fails this step rather than a later pull: by the
  // engine directly when it is local (the helper already holds the password), else by docker login.
  await dockerLoginEcr(logins, { docker: { run: runProcess, env: dockerEnvWithHelper(env, served), engineVerdict, detail: (line) => reporter.detail(line) }, reporter, retry, identity: inputs.roleArn, renewal: 'renews itself' });
  await announceServed(reporter, env, served, credentials.expiration);
  if (inputs.exportCredentials) {
    await exportAwsProfile(env, inputs, refreshingCredentialProcess(served), reporter, 'its credential_process is docker-credential-regauth, which renews the keys as they near expiry');
  }
}

/** export_credentials: regauth's profile in the job's own AWS config; AWS_PROFILE for later steps, never a key. */
async function exportAwsProfile(env: Env, inputs: ReturnType<typeof parseEcrOidcInputs>, credentialProcess: string, reporter: Reporter, how: string): Promise<void> {
  const exported = await exportProfile(env, inputs.profile, { region: inputs.region, credential_process: credentialProcess });
  if (exported.replaced === 'user') reporter.line(`regauth: ${exported.file} already had a profile ${exported.name}; regauth's replaces it for this job and logout gives it back`);
  if (exported.replaced === 'regauth') reporter.line(`regauth: replaced the profile ${exported.name} an earlier regauth step of this job exported`);
  reporter.line(`regauth: exported AWS profile ${exported.name} into ${exported.file} (${how}); later steps get AWS_PROFILE=${exported.name} through $BASH_ENV, never a key`);
  // Static keys in the environment win over any profile for the AWS CLI and SDKs; name the variable, never its value.
  if ((env.AWS_ACCESS_KEY_ID ?? '') !== '') reporter.line(`regauth: warning: AWS_ACCESS_KEY_ID is set in this job's environment; the AWS CLI and SDKs use it before any profile, so later steps act as those keys, not as profile ${exported.name}: unset it in steps that should use the role`);
}

/** Entry for `node <bundle> --regauth-helper …` (the refresh half of docker-credential-regauth). */
export const helperMain = (args: readonly string[]): Promise<number> => runHelper(args, { 'aws-ecr': refreshAwsEcr });

/** Called at most once, when STS calls the token invalid or expired. */
function remint(audience: string, env: Env, reporter: Reporter, retry: RetryDeps): NonNullable<AssumeRoleInput['reauth']> {
  return async () => {
    reporter.line(`regauth: STS refused the token as invalid or expired; minting a fresh one with aud ${audience}`);
    const fresh = await mintOidcToken(audience, { env, run: runProcess, retryDeps: retry });
    reporter.redactor.add(fresh);
    return fresh;
  };
}
