import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { callAws, type AwsRetryOptions } from './call.ts';
import { AwsCallError } from './errors.ts';
import { sdkClientConfig } from './sdk.ts';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface AssumeRoleInput {
  region: string;
  roleArn: string;
  sessionName: string;
  durationSeconds: number;
  token: string;
  /** Called at most once when STS says the token is invalid or expired; returns a fresh token. */
  reauth?: () => Promise<string>;
  retry?: AwsRetryOptions;
}

export interface AssumedRole {
  credentials: Required<AwsCredentials>;
  assumedRoleArn: string;
  subject: string | undefined;
  audience: string | undefined;
  provider: string | undefined;
  /** The token that succeeded (a fresh one when reauth ran). */
  token: string;
  reauthenticated: boolean;
}

/**
 * STS AssumeRoleWithWebIdentity. Unsigned (the token is the credential), so no credential
 * provider runs; endpoint, FIPS and dual-stack settings come from the SDK's own resolution.
 */
export async function assumeRoleWithWebIdentity(input: AssumeRoleInput): Promise<AssumedRole> {
  const client = new STSClient(sdkClientConfig(input.region));
  const attempt = (token: string) =>
    callAws(
      'sts:AssumeRoleWithWebIdentity',
      () =>
        client.send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: input.roleArn,
            RoleSessionName: input.sessionName,
            DurationSeconds: input.durationSeconds,
            WebIdentityToken: token,
          }),
        ),
      input.retry,
      [token],
    );
  try {
    let token = input.token;
    let reauthenticated = false;
    let output;
    try {
      output = await attempt(token);
    } catch (error) {
      if (!(error instanceof AwsCallError) || error.kind !== 'reauth' || !input.reauth) throw error;
      token = await input.reauth();
      reauthenticated = true;
      output = await attempt(token);
    }
    const c = output.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new AwsCallError('sts:AssumeRoleWithWebIdentity', { kind: 'permanent', code: 'IncompleteResponse', message: 'the response has no complete Credentials' }, 1);
    }
    return {
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration },
      assumedRoleArn: output.AssumedRoleUser?.Arn ?? '',
      subject: output.SubjectFromWebIdentityToken,
      audience: output.Audience,
      provider: output.Provider,
      token,
      reauthenticated,
    };
  } finally {
    client.destroy();
  }
}
