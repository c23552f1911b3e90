import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AwsCallError, assumeRoleWithWebIdentity, getEcrAuthorization, getEcrPublicAuthorization, type AwsCredentials } from '../../src/clouds/aws/index.ts';
import type { RetryDeps } from '../../src/core/retry.ts';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startCountingProxy, type CountingProxy } from '../support/aws/proxy.ts';
import { bundleForNode } from '../support/aws/bundle.ts';

const ROLE = 'arn:aws:iam::123456789012:role/ci-pull';
const STRICT_ROLE = 'arn:aws:iam::123456789012:role/main-only';
const OTHER_ACCOUNT = '210987654321';
const THIRD_ACCOUNT = '333333333333';
const STATIC = { accessKeyId: 'AKIAREGAUTHTEST00001', secretAccessKey: 'static/secret/key/for/tests/only', account: OTHER_ACCOUNT };
const noWait: RetryDeps = { sleep: async () => undefined, random: () => 0 };
const retry = { deps: noWait };

let aws: LocalAws;
let dir: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  aws = await startLocalAws({
    roles: {
      [ROLE]: { subPattern: 'org/*', accounts: ['123456789012', OTHER_ACCOUNT], maxSessionDuration: 7200 },
      [STRICT_ROLE]: { subPattern: 'org/*/vcs-ref/refs/heads/release' },
    },
    staticKeys: [STATIC],
    ecrPassword: 'ecr:pass:with:colons',
    proxyEndpoints: { '123456789012': 'https://127.0.0.1:5443', [OTHER_ACCOUNT]: 'https://210987654321.dkr.ecr.us-east-1.amazonaws.com' },
  });
  dir = mkdtempSync(join(tmpdir(), 'regauth-aws-client-'));
  writeFileSync(join(dir, 'empty'), '');
  // Only the local stack: no ~/.aws, no instance metadata, no ambient keys or proxies.
  for (const name of Object.keys(process.env)) if (/^(AWS_|HTTPS?_PROXY$|NO_PROXY$)/i.test(name)) delete process.env[name];
  Object.assign(process.env, aws.endpointEnv(), { AWS_CONFIG_FILE: join(dir, 'empty'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'empty'), AWS_EC2_METADATA_DISABLED: 'true' });
});

afterAll(async () => {
  process.env = savedEnv;
  await aws.stop();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  aws.clearFaults();
  aws.resetCounters();
});

async function assume(role = ROLE, token?: string) {
  return assumeRoleWithWebIdentity({ region: 'us-east-1', roleArn: role, sessionName: 'regauth-test-1', durationSeconds: 3600, token: token ?? (await aws.mintToken()), retry });
}

async function failure(promise: Promise<unknown>): Promise<AwsCallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AwsCallError);
  return error as AwsCallError;
}

describe('assumeRoleWithWebIdentity + getEcrAuthorization against the local stack', () => {
  it('logs in to the role account registry, with the host from proxyEndpoint', async () => {
    const role = await assume();
    expect(role.assumedRoleArn).toBe('arn:aws:sts::123456789012:assumed-role/ci-pull/regauth-test-1');
    expect(role.credentials.accessKeyId).toMatch(/^ASIA/);
    expect(role.credentials.expiration.getTime()).toBeGreaterThan(Date.now());
    expect(role.subject).toMatch(/^org\/.+\/vcs-ref\/refs\/heads\/main$/);
    const logins = await getEcrAuthorization({ region: 'us-east-1', credentials: role.credentials, retry });
    expect(logins).toEqual([{ registry: '127.0.0.1:5443', username: 'AWS', password: 'ecr:pass:with:colons', expiresAt: expect.any(Date) }]);
    expect(aws.log.map((e) => e.endpoint)).toEqual(['sts', 'ecr']);
  });

  it('logs in to several accounts in one call', async () => {
    const role = await assume();
    const logins = await getEcrAuthorization({ region: 'us-east-1', credentials: role.credentials, registryIds: ['123456789012', OTHER_ACCOUNT], retry });
    expect(logins.map((l) => l.registry)).toEqual(['127.0.0.1:5443', '210987654321.dkr.ecr.us-east-1.amazonaws.com']);
    expect(aws.count('ecr', 'GetAuthorizationToken')).toBe(1);
  });

  it('works with static keys (ecr-login) and ECR Public', async () => {
    const logins = await getEcrAuthorization({ region: 'eu-west-1', credentials: STATIC, retry });
    expect(logins[0]?.registry).toBe('210987654321.dkr.ecr.us-east-1.amazonaws.com');
    const pub = await getEcrPublicAuthorization({ credentials: STATIC, retry });
    expect(pub).toMatchObject({ registry: 'public.ecr.aws', username: 'AWS', password: 'ecr-public-password' });
    expect(aws.log.at(-1)).toMatchObject({ endpoint: 'ecrPublic', region: 'us-east-1', status: 200 });
  });

  it('never retries AccessDenied from the trust policy (exactly 1 request)', async () => {
    const error = await failure(assume(STRICT_ROLE));
    expect(error.code).toBe('AccessDenied');
    expect(error.kind).toBe('permanent');
    expect(aws.count('sts')).toBe(1);
    expect(error.message).toMatch(/^sts:AssumeRoleWithWebIdentity failed: AccessDenied \(HTTP 403\): .*trust policy/);
  });

  it.each([
    ['ValidationError', 'permanent'],
    ['IDPRejectedClaim', 'permanent'],
    ['RegionDisabledException', 'permanent'],
  ])('never retries %s', async (code, kind) => {
    aws.failNext('sts', 1, code);
    const error = await failure(assume());
    expect([error.code, error.kind]).toEqual([code, kind]);
    expect(aws.count('sts')).toBe(1);
  });

  it.each(['Throttling', '500', 'reset', 'IDPCommunicationError'])('retries %s, then succeeds', async (kind) => {
    aws.failNext('sts', 2, kind);
    const retries: number[] = [];
    const role = await assumeRoleWithWebIdentity({
      region: 'us-east-1', roleArn: ROLE, sessionName: 'regauth-test-1', durationSeconds: 900, token: await aws.mintToken(),
      retry: { deps: noWait, onRetry: (attempt) => retries.push(attempt) },
    });
    expect(role.credentials.sessionToken.length).toBeGreaterThan(100);
    expect(aws.count('sts')).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after the policy max on a persistent throttle', async () => {
    aws.failNext('ecr', 10, 'Throttling');
    const error = await failure(getEcrAuthorization({ region: 'us-east-1', credentials: STATIC, retry: { deps: noWait, policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, maxServerWaitMs: 1 } } }));
    expect([error.code, error.attempts]).toEqual(['ThrottlingException', 3]);
    expect(error.message).toMatch(/after 3 attempts/);
    expect(aws.count('ecr')).toBe(3);
  });

  it('re-mints once on an expired token (reauth), without retrying it', async () => {
    const expired = await aws.mintToken({ iat: Math.floor(Date.now() / 1000) - 7200 });
    let minted = 0;
    const role = await assumeRoleWithWebIdentity({
      region: 'us-east-1', roleArn: ROLE, sessionName: 'regauth-test-1', durationSeconds: 3600, token: expired, retry,
      reauth: async () => {
        minted++;
        return aws.mintToken();
      },
    });
    expect([minted, role.reauthenticated, aws.count('sts')]).toEqual([1, true, 2]);
    expect(aws.log.map((e) => e.errorCode)).toEqual(['ExpiredTokenException', undefined]);
  });

  it('reports InvalidIdentityToken for a forged token as reauth, and never prints the token', async () => {
    const forged = await aws.forgeToken();
    const error = await failure(assume(ROLE, forged));
    expect([error.code, error.kind, aws.count('sts')]).toEqual(['InvalidIdentityToken', 'reauth', 1]);
    expect(error.message).not.toContain(forged);
    expect(error.message).not.toContain(forged.split('.')[1]);
  });

  it('refuses a tampered secret key with InvalidSignatureException (1 request)', async () => {
    const error = await failure(getEcrAuthorization({ region: 'us-east-1', credentials: { ...STATIC, secretAccessKey: 'wrong' }, retry }));
    expect([error.code, error.kind, aws.count('ecr')]).toEqual(['InvalidSignatureException', 'permanent', 1]);
    expect(error.message).toMatch(/secret access key/);
  });

  it('refuses a session token that does not belong to the key, and expired credentials', async () => {
    const role = await assume();
    const wrongToken: AwsCredentials = { ...role.credentials, sessionToken: 'x'.repeat(40) };
    expect((await failure(getEcrAuthorization({ region: 'us-east-1', credentials: wrongToken, retry }))).code).toBe('UnrecognizedClientException');
    aws.advance(3601);
    try {
      const error = await failure(getEcrAuthorization({ region: 'us-east-1', credentials: role.credentials, retry }));
      expect([error.code, error.kind]).toEqual(['ExpiredTokenException', 'reauth']);
    } finally {
      aws.advance(-3601);
    }
  });

  it('is refused ECR access to an account the role cannot reach', async () => {
    const role = await assume();
    const error = await failure(getEcrAuthorization({ region: 'us-east-1', credentials: role.credentials, registryIds: [THIRD_ACCOUNT], retry }));
    expect([error.code, error.classification.status, aws.count('ecr')]).toEqual(['AccessDeniedException', 400, 1]);
  });
});

describe('endpoints and proxies come from the environment', () => {
  let proxy: CountingProxy;
  beforeAll(async () => {
    proxy = await startCountingProxy();
  });
  // Each case sets the proxy variables it needs; none may leak into the next, whatever the order.
  afterEach(() => {
    delete process.env.HTTP_PROXY;
    delete process.env.NO_PROXY;
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('honours AWS_ENDPOINT_URL for every service when no per-service variable is set', async () => {
    const saved = aws.endpointEnv();
    for (const name of Object.keys(saved)) delete process.env[name];
    process.env.AWS_ENDPOINT_URL = aws.urls.issuer;
    try {
      const role = await assume();
      await getEcrAuthorization({ region: 'us-east-1', credentials: role.credentials, retry });
      expect(aws.log.map((e) => e.endpoint)).toEqual(['issuer', 'issuer']);
    } finally {
      delete process.env.AWS_ENDPOINT_URL;
      Object.assign(process.env, saved);
    }
  });

  it('sends every AWS call through HTTP_PROXY', async () => {
    process.env.HTTP_PROXY = proxy.url;
    const before = proxy.forwarded;
    const role = await assume();
    await getEcrAuthorization({ region: 'us-east-1', credentials: role.credentials, retry });
    await getEcrPublicAuthorization({ credentials: STATIC, retry });
    expect(proxy.forwarded - before).toBe(3);
  });

  it('goes direct for hosts in NO_PROXY', async () => {
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = 'localhost,127.0.0.1';
    const before = proxy.forwarded;
    const role = await assume();
    await getEcrAuthorization({ region: 'us-east-1', credentials: role.credentials, retry });
    expect(proxy.forwarded).toBe(before);
    expect(aws.count('ecr')).toBe(1);
  });
});

describe('the bundled AWS layer', () => {
  it('runs from a minified node bundle without the default credential chain, and stays small', async () => {
    const out = mkdtempSync(join(dir, 'bundle-'));
    const bundle = await bundleForNode(join(import.meta.dirname, '../support/aws/bundle-runner.ts'), out);
    // A regression guard: importing an aggregated client or the credential chain would blow past it.
    expect(bundle.bytes).toBeLessThan(260_000);
    expect(Object.keys(bundle.inputs).filter((name) => /credential-provider-(ini|sso|process|web-identity)|nested-clients|bowser/.test(name))).toEqual([]);
    const { stdout } = await promisify(execFile)(process.execPath, [bundle.file], {
      env: {
        PATH: process.env.PATH ?? '',
        ...aws.endpointEnv(),
        AWS_CONFIG_FILE: join(dir, 'empty'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'empty'),
        AWS_EC2_METADATA_DISABLED: 'true',
        RUNNER_ROLE_ARN: ROLE,
        RUNNER_ACCOUNTS: `123456789012,${OTHER_ACCOUNT}`,
        RUNNER_TOKEN: await aws.mintToken(),
      },
      encoding: 'utf8',
    });
    expect(JSON.parse(stdout)).toEqual({
      role: 'arn:aws:sts::123456789012:assumed-role/ci-pull/bundle-runner',
      registries: ['127.0.0.1:5443', '210987654321.dkr.ecr.us-east-1.amazonaws.com', 'public.ecr.aws'],
    });
  });
});
