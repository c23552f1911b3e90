import { assumeRoleWithWebIdentity, AwsCallError, type AssumeRoleInput } from '../clouds/aws/index.ts';
import { exportProfile, profilePaths } from '../clouds/aws/profile.ts';
import type { CommandMain } from '../core/cli.ts';
import { rememberSecretFiles } from '../docker/login.ts';
import { loginToEcrRegistries } from '../clouds/aws/ecr-login.ts';
import { UserError } from '../core/errors.ts';
import { parseEcrOidcInputs } from '../inputs/ecr.ts';
import type { Env } from '../inputs/common.ts';
import { audiences, decodeTokenClaims, describeClaims, diagnose, mintOidcToken, obtainOidcToken } from '../job-token/index.ts';
import { isoSeconds, seconds, type Reporter } from '../core/output.ts';
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
  reporter.line(`regauth: OIDC token from ${first.source}: ${describeClaims(claims, Date.now())}`);
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
      retry: { deps: retry, onRetry: (attempt, verdict, delay) => reporter.line(`regauth: sts:AssumeRoleWithWebIdentity failed (attempt ${attempt}: ${verdict.reason}); retrying in ${seconds(delay)}`) },
    });
  } catch (error) {
    if (error instanceof AwsCallError && error.kind !== 'transient') {
      // The claims were printed above; these lines name what the role's trust policy must allow.
      const lines = diagnose(claims, inputs.roleArn, error.code).filter((line) => !line.startsWith('token claims:'));
      for (const line of lines) reporter.line(`regauth: ${line}`);
      throw new UserError(`${error.message}; ${lines[lines.length - 1] ?? ''}`);
    }
    throw error;
  }
  const { credentials } = assumed;
  reporter.redactor.add(credentials.secretAccessKey);
  reporter.redactor.add(credentials.sessionToken);
  reporter.redactor.add(assumed.token);
  reporter.line(`regauth: assumed ${assumed.assumedRoleArn || inputs.roleArn} as session ${inputs.roleSessionName}, credentials valid until ${isoSeconds(credentials.expiration)}`);

  await loginToEcrRegistries(inputs, credentials, { docker: { run: runProcess, env }, reporter, retry });

  if (inputs.exportCredentials) {
    // On record before the files exist: a step killed while writing leaves nothing logout cannot see.
    const paths = profilePaths(env);
    await rememberSecretFiles(env, [paths.credentialsFile, paths.configFile]);
    const profile = await exportProfile(env, credentials, inputs.region);
    reporter.line(`regauth: exported the temporary credentials as AWS profile regauth (${profile.credentialsFile}, mode 0600); later steps get AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE through $BASH_ENV`);
  }
  return 0;
};

/** Called at most once, when STS calls the token invalid or expired. */
function remint(audience: string, env: Env, reporter: Reporter, retry: RetryDeps): NonNullable<AssumeRoleInput['reauth']> {
  return async () => {
    reporter.line(`regauth: STS refused the token as invalid or expired; minting a fresh one with aud ${audience}`);
    const fresh = await mintOidcToken(audience, { env, run: runProcess, retryDeps: retry });
    reporter.redactor.add(fresh);
    return fresh;
  };
}
