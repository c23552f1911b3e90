import { assumeRoleWithWebIdentity, AwsCallError, awsFailureWhat, type AssumeRoleInput, type AwsCredentials } from '../clouds/aws/index.ts';
import { exportProfile, profilePaths, PROFILE_NAME } from '../clouds/aws/profile.ts';
import type { CommandMain } from '../core/cli.ts';
import { rememberSecretFiles } from '../docker/login.ts';
import { dockerLoginEcr, fetchEcrLogins, loginToEcrRegistries } from '../clouds/aws/ecr-login.ts';
import { awsSettings, refreshAwsEcr } from '../refresh/aws-ecr.ts';
import { helperMain as runHelper } from '../refresh/helper.ts';
import { announceServed, dockerEnvWithHelper, exportRefreshingAwsProfile, planRefresh, refreshAudience, serveThroughHelper } from '../refresh/setup.ts';
import { recordExports } from '../refresh/state.ts';
import { UserError } from '../core/errors.ts';
import { parseRegistryHost } from '../registry/host.ts';
import { parseEcrOidcInputs } from '../inputs/ecr.ts';
import type { Env } from '../inputs/common.ts';
import { audiences, claimsDetail, decodeTokenClaims, diagnose, mintOidcToken, obtainOidcToken } from '../job-token/index.ts';
import type { Reporter } from '../core/output.ts';
import { clockTime } from '../core/units.ts';
import { isOnPath } from '../core/path-lookup.ts';
import { runProcess } from '../core/process.ts';
import { realRetryDeps, type RetryDeps } from '../core/retry.ts';

/** regauth/ecr-oidc-login: OIDC token → STS AssumeRoleWithWebIdentity → ECR → docker login. */
export const main: CommandMain = async (env, reporter, retry: RetryDeps = realRetryDeps) => {
  const inputs = parseEcrOidcInputs(env);
  const first = await obtainOidcToken({ env, run: runProcess, retryDeps: retry, ...(inputs.audience ? { audience: inputs.audience } : {}) });
  reporter.redactor.add(first.token);
  const claims = decodeTokenClaims(first.token);
  if (first.replaced) reporter.line(`regauth: ${first.replaced}`);
  if (first.mintFailed) reporter.line(`regauth: ${first.mintFailed}; trying the job's token`);
  reporter.detail(`regauth: OIDC token from ${first.source}: ${claimsDetail(claims, Date.now())}`);
  // Re-minting needs a CircleCI CLI that can mint; without one STS's verdict (and the diagnosis) stands.
  const reauth = !first.mintFailed && (await isOnPath('circleci', env.PATH)) ? remint(inputs.audience || audiences(claims)[0] || env.CIRCLE_ORGANIZATION_ID || '', env, reporter, retry) : undefined;

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

  const audience = refreshAudience(inputs.audience, claims, env);
  const plan = planRefresh(inputs.refresh, audience);
  if ('fallback' in plan && plan.fallback) reporter.line(`regauth: ${plan.fallback}`);
  if ('bundle' in plan) {
    await serveRefreshing(inputs, credentials, audience, plan.bundle, env, reporter, retry);
    return 0;
  }

  await loginToEcrRegistries(inputs, credentials, { docker: { run: runProcess, env }, reporter, retry, identity: inputs.roleArn, renewal: 'does not renew (refresh: false)' });

  if (inputs.exportCredentials) {
    // On record before the files exist: a step killed while writing leaves nothing logout cannot see.
    const paths = profilePaths(env);
    await rememberSecretFiles(env, [paths.credentialsFile, paths.configFile]);
    const profile = await exportProfile(env, credentials, inputs.region);
    await recordExports(env, ['AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_PROFILE']);
    reporter.line(`regauth: exported the temporary credentials as AWS profile regauth (${profile.credentialsFile}, mode 0600); later steps get AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE through $BASH_ENV`);
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
  const hosts: string[] = [];
  for (const login of logins) {
    const target = parseRegistryHost(login.registry);
    if ('error' in target) throw new UserError(`ECR answered a proxyEndpoint host that ${target.error}; nothing was logged in to it`);
    hosts.push(target.host);
  }
  const served = await serveThroughHelper({
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
    registries: logins.map((login, index) => ({ host: hosts[index] ?? login.registry, username: login.username, secret: login.password, expiresAt: login.expiresAt ?? new Date(issuedAtMs + 12 * 3600_000) })),
    awsCredentials: credentials,
    bundleSource: source,
    issuedAtMs,
  });
  // docker login as with refresh: false, so the registry judges the password now and a refusal
  // fails this step rather than a later pull; docker hands it to the helper, which already has it.
  await dockerLoginEcr(logins, { docker: { run: runProcess, env: dockerEnvWithHelper(env, served) }, reporter, retry, identity: inputs.roleArn, renewal: 'renews itself' });
  await announceServed(reporter, env, served, credentials.expiration);
  if (inputs.exportCredentials) {
    const profile = await exportRefreshingAwsProfile(env, served, inputs.region, PROFILE_NAME);
    reporter.line(`regauth: exported AWS profile ${PROFILE_NAME} (${profile.configFile}): its credential_process is docker-credential-regauth, which renews the keys as they near expiry; later steps get AWS_PROFILE and AWS_CONFIG_FILE through $BASH_ENV, never a key`);
  }
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
