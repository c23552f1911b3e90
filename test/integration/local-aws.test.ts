import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicTokenCommand } from '@aws-sdk/client-ecr-public';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * The local AWS must be faithful enough that independent clients (the AWS CLI v2, botocore
 * underneath, and the AWS SDK v3) accept its answers and its refusals.
 */
const AWS_CLI = '/usr/bin/aws';
const ROLE = 'arn:aws:iam::123456789012:role/ci-pull';
const ORG_ONLY_ROLE = 'arn:aws:iam::123456789012:role/org-aud-only';
const STATIC = { accessKeyId: 'AKIAREGAUTHCLITEST01', secretAccessKey: 'cli/static/secret/for/tests', account: '210987654321' };
const run = promisify(execFile);
const enabled = requireTools([AWS_CLI]);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe.runIf(enabled)('local AWS, seen by the AWS CLI v2 and the SDK v3', () => {
  let aws: LocalAws;
  let dir: string;
  let baseEnv: Record<string, string>;

  beforeAll(async () => {
    aws = await startLocalAws({
      roles: {
        [ROLE]: { subPattern: 'org/*/project/*/user/*', maxSessionDuration: 3600 },
        [ORG_ONLY_ROLE]: {},
      },
      providerAudiences: ['sts.amazonaws.com'],
      staticKeys: [STATIC],
      ecrPassword: 'from-local-ecr',
      proxyEndpoints: { '123456789012': 'https://127.0.0.1:5000' },
    });
    dir = mkdtempSync(join(tmpdir(), 'regauth-local-aws-'));
    writeFileSync(join(dir, 'config'), '');
    writeFileSync(join(dir, 'credentials'), '');
    // Nothing from ~/.aws, instance metadata or the caller's environment reaches the CLI.
    baseEnv = {
      PATH: '/usr/bin:/bin',
      HOME: dir,
      AWS_CONFIG_FILE: join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_MAX_ATTEMPTS: '1',
      AWS_PAGER: '',
      ...aws.endpointEnv(),
    };
  });

  afterAll(async () => {
    await aws?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    // This CLI predates AWS_ENDPOINT_URL_<SERVICE> (v2.13), so the endpoint also goes on argv.
    const service = args[0] === 'sts' ? aws.urls.sts : args[0] === 'ecr' ? aws.urls.ecr : aws.urls.ecrPublic;
    try {
      const { stdout, stderr } = await run(AWS_CLI, [...args, '--endpoint-url', service, '--output', 'json'], { env: { ...baseEnv, ...env }, encoding: 'utf8' });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  async function assumeWithCli(token: string, role = ROLE): Promise<CliResult> {
    const file = join(dir, `token-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, token, { mode: 0o600 });
    return cli(['sts', 'assume-role-with-web-identity', '--role-arn', role, '--role-session-name', 'regauth-cli-1', '--duration-seconds', '900', '--web-identity-token', `file://${file}`]);
  }

  it('serves the issuer discovery document and JWKS that verify its tokens', async () => {
    const config = (await (await fetch(`${aws.issuer.url}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    expect(config.issuer).toBe(aws.issuer.url);
    const token = await aws.mintToken();
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(config.jwks_uri)), { issuer: aws.issuer.url, audience: aws.orgId });
    expect(payload.sub).toMatch(new RegExp(`^org/${aws.orgId}/project/[^/]+/user/[^/]+/vcs-origin/.+/vcs-ref/refs/heads/main$`));
    expect(payload['oidc.circleci.com/project-id']).toBe(aws.issuer.projectId);
    await expect(jwtVerify(await aws.forgeToken(), createRemoteJWKSet(new URL(config.jwks_uri)))).rejects.toThrow();
  });

  it('assume-role-with-web-identity, then ecr get-authorization-token and get-login-password', async () => {
    // Only this test's requests: other tests (in any order) call ECR with other principals.
    const logFrom = aws.log.length;
    const token = await aws.mintToken();
    const assumed = await assumeWithCli(token);
    expect(assumed.stderr).toBe('');
    const out = JSON.parse(assumed.stdout) as {
      Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
      AssumedRoleUser: { Arn: string };
      SubjectFromWebIdentityToken: string;
      Audience: string;
      Provider: string;
    };
    expect(out.AssumedRoleUser.Arn).toBe('arn:aws:sts::123456789012:assumed-role/ci-pull/regauth-cli-1');
    expect(out.Audience).toBe(aws.orgId);
    expect(out.Provider).toBe(aws.issuer.url);
    expect(out.SubjectFromWebIdentityToken).toBe(aws.issuer.claims().sub);
    expect(Date.parse(out.Credentials.Expiration) - Date.now()).toBeGreaterThan(800_000);

    const session = { AWS_ACCESS_KEY_ID: out.Credentials.AccessKeyId, AWS_SECRET_ACCESS_KEY: out.Credentials.SecretAccessKey, AWS_SESSION_TOKEN: out.Credentials.SessionToken };
    const auth = await cli(['ecr', 'get-authorization-token'], session);
    const data = (JSON.parse(auth.stdout) as { authorizationData: { authorizationToken: string; proxyEndpoint: string }[] }).authorizationData;
    expect(data).toHaveLength(1);
    expect(data[0]?.proxyEndpoint).toBe('https://127.0.0.1:5000');
    expect(Buffer.from(data[0]?.authorizationToken ?? '', 'base64').toString()).toBe('AWS:from-local-ecr');
    const password = await cli(['ecr', 'get-login-password'], session);
    expect(password.stdout.trim()).toBe('from-local-ecr');
    const ecrCalls = aws.log.slice(logFrom).filter((e) => e.service === 'ecr');
    expect(ecrCalls).toHaveLength(2);
    expect(ecrCalls.every((e) => e.principal === out.AssumedRoleUser.Arn)).toBe(true);

    // The request log carries no secret.
    const logText = JSON.stringify(aws.log);
    for (const secret of [token, out.Credentials.SecretAccessKey, out.Credentials.SessionToken]) expect(logText).not.toContain(secret);
  });

  it('accepts static keys on ECR and ECR Public (us-east-1 only)', async () => {
    const keys = { AWS_ACCESS_KEY_ID: STATIC.accessKeyId, AWS_SECRET_ACCESS_KEY: STATIC.secretAccessKey };
    expect((await cli(['ecr', 'get-login-password'], keys)).stdout.trim()).toBe('from-local-ecr');
    expect((await cli(['ecr-public', 'get-login-password'], keys)).stdout.trim()).toBe('ecr-public-password');
    const wrongRegion = await cli(['ecr-public', 'get-login-password', '--region', 'eu-west-1'], keys);
    expect(wrongRegion.code).not.toBe(0);
    expect(wrongRegion.stderr).toContain('InvalidSignatureException');
  });

  it('refuses a wrong secret key with InvalidSignatureException', async () => {
    const result = await cli(['ecr', 'get-authorization-token'], { AWS_ACCESS_KEY_ID: STATIC.accessKeyId, AWS_SECRET_ACCESS_KEY: `${STATIC.secretAccessKey}x` });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/\(InvalidSignatureException\) when calling the GetAuthorizationToken operation/);
  });

  it('refuses an unknown key with UnrecognizedClientException', async () => {
    const result = await cli(['ecr', 'get-authorization-token'], { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY000000', AWS_SECRET_ACCESS_KEY: 'x' });
    expect(result.stderr).toContain('(UnrecognizedClientException)');
  });

  it.each([
    ['a forged token', () => aws.forgeToken(), 'InvalidIdentityToken'],
    ['an expired token', () => aws.mintToken({ iat: Math.floor(Date.now() / 1000) - 4000 }), 'ExpiredTokenException'],
    ['a token for an audience the provider does not list', () => aws.mintToken({ aud: 'not-the-org' }), 'InvalidIdentityToken'],
    ['a token from an unregistered issuer', () => aws.mintToken({ iss: 'https://oidc.example.com/org/x' }), 'InvalidIdentityToken'],
    ['a token whose sub the trust policy does not match', () => aws.mintToken({ sub: 'repo:someone/else' }), 'AccessDenied'],
  ])('refuses %s', async (_name, token, code) => {
    const result = await assumeWithCli(await token());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`(${code}) when calling the AssumeRoleWithWebIdentity operation`);
  });

  it('refuses an aud the provider accepts but the trust policy does not (AccessDenied)', async () => {
    const result = await assumeWithCli(await aws.mintToken({ aud: 'sts.amazonaws.com' }), ORG_ONLY_ROLE);
    expect(result.stderr).toContain('(AccessDenied)');
  });

  it('refuses bad parameters with ValidationError', async () => {
    const token = await aws.mintToken();
    const file = join(dir, 'token-validation');
    writeFileSync(file, token);
    const result = await cli(['sts', 'assume-role-with-web-identity', '--role-arn', ROLE, '--role-session-name', 'bad name!', '--duration-seconds', '900', '--web-identity-token', `file://${file}`]);
    expect(result.stderr).toMatch(/\(ValidationError\).*1 validation error detected: .*'roleSessionName'/);
    expect(result.stderr).not.toContain(token);
    const tooLong = await cli(['sts', 'assume-role-with-web-identity', '--role-arn', ROLE, '--role-session-name', 'ok-name', '--duration-seconds', '7200', '--web-identity-token', `file://${file}`]);
    expect(tooLong.stderr).toMatch(/\(ValidationError\).*MaxSessionDuration/);
    // The CLI checks some bounds itself; the raw query protocol shows every constraint at once.
    const raw = await fetch(aws.urls.sts, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: ROLE, RoleSessionName: 'x', DurationSeconds: '60', WebIdentityToken: token }),
    });
    const xml = await raw.text();
    expect(raw.status).toBe(400);
    expect(xml).toMatch(/<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">\s*<Error>\s*<Type>Sender<\/Type>\s*<Code>ValidationError<\/Code>\s*<Message>2 validation errors detected: .*roleSessionName.*durationSeconds.*<\/Message>\s*<\/Error>\s*<RequestId>[0-9a-f-]{36}<\/RequestId>/s);
    expect(xml).not.toContain(token);
  });

  it('injected faults reach the CLI with AWS codes', async () => {
    aws.failNext('sts', 1, 'Throttling');
    expect((await assumeWithCli(await aws.mintToken())).stderr).toContain('(Throttling)');
    aws.failNext('sts', 1, 'IDPCommunicationError');
    expect((await assumeWithCli(await aws.mintToken())).stderr).toContain('(IDPCommunicationError)');
    aws.failNext('ecr', 1, 'Throttling');
    expect((await cli(['ecr', 'get-login-password'], { AWS_ACCESS_KEY_ID: STATIC.accessKeyId, AWS_SECRET_ACCESS_KEY: STATIC.secretAccessKey })).stderr).toContain('(ThrottlingException)');
    aws.failNext('ecr', 1, '500');
    expect((await cli(['ecr', 'get-login-password'], { AWS_ACCESS_KEY_ID: STATIC.accessKeyId, AWS_SECRET_ACCESS_KEY: STATIC.secretAccessKey })).stderr).toContain('(ServerException)');
  });

  it('the AWS SDK v3 clients accept its answers and errors', async () => {
    const sts = new STSClient({ region: 'us-east-1', endpoint: aws.urls.sts, maxAttempts: 1 });
    const out = await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: ROLE, RoleSessionName: 'sdk', WebIdentityToken: await aws.mintToken() }));
    expect(out.Credentials?.Expiration).toBeInstanceOf(Date);
    expect(out.AssumedRoleUser?.Arn).toContain(':assumed-role/ci-pull/sdk');
    await expect(sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: ROLE, RoleSessionName: 'sdk', WebIdentityToken: await aws.forgeToken() }))).rejects.toMatchObject({
      // The SDK names the modelled exception; the wire code stays in Code.
      name: 'InvalidIdentityTokenException',
      Code: 'InvalidIdentityToken',
      $metadata: { httpStatusCode: 400 },
    });
    const credentials = { accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken ?? '' };
    const ecr = new ECRClient({ region: 'eu-central-1', endpoint: aws.urls.ecr, maxAttempts: 1, credentials });
    const auth = await ecr.send(new GetAuthorizationTokenCommand({}));
    expect(auth.authorizationData?.[0]?.expiresAt).toBeInstanceOf(Date);
    const wrong = new ECRClient({ region: 'eu-central-1', endpoint: aws.urls.ecr, maxAttempts: 1, credentials: { ...credentials, secretAccessKey: 'nope' } });
    await expect(wrong.send(new GetAuthorizationTokenCommand({}))).rejects.toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
    const pub = new ECRPUBLICClient({ region: 'us-east-1', endpoint: aws.urls.ecrPublic, maxAttempts: 1, credentials });
    expect((await pub.send(new GetPublicTokenCommand({}))).authorizationData?.authorizationToken).toBe(Buffer.from('AWS:ecr-public-password').toString('base64'));
    for (const client of [sts, ecr, wrong, pub]) client.destroy();
  });

  it('counts requests per service and action', async () => {
    // Its own requests, counted from zero: it must not depend on which tests ran before it.
    aws.resetCounters();
    const first = JSON.parse((await assumeWithCli(await aws.mintToken())).stdout) as { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string } };
    expect((await assumeWithCli(await aws.mintToken(), ORG_ONLY_ROLE)).code).toBe(0);
    const session = { AWS_ACCESS_KEY_ID: first.Credentials.AccessKeyId, AWS_SECRET_ACCESS_KEY: first.Credentials.SecretAccessKey, AWS_SESSION_TOKEN: first.Credentials.SessionToken };
    expect((await cli(['ecr', 'get-authorization-token'], session)).code).toBe(0);
    expect(aws.count('sts')).toBe(2);
    expect(aws.count('sts', 'AssumeRoleWithWebIdentity')).toBe(2);
    expect(aws.count('ecr', 'GetAuthorizationToken')).toBe(1);
    expect(aws.count('ecr')).toBe(1);
  });
});
