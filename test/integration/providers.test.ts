import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsEcrProvider as aws } from '../../src/clouds/aws/provider.ts';
import { gcpProvider as gcp } from '../../src/clouds/gcp/provider.ts';
import type { LoginToken, RefreshDeps, UngroupedRecipe } from '../../src/clouds/provider.ts';
import { UserError } from '../../src/core/errors.ts';
import { Reporter, type Sink } from '../../src/core/output.ts';
import type { RetryDeps } from '../../src/core/retry.ts';
import { decodeTokenClaims } from '../../src/job-token/index.ts';
import { parseRecipe } from '../../src/refresh/recipe.ts';
import { groupId } from '../../src/refresh/setup.ts';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';

/**
 * Each cloud's provider against the local stand-ins (testbed/aws, testbed/gcp): the login and the
 * credential helper run the same mint, the login with its reporter and full retries, the helper
 * from the recipe the login built, with its shorter retries. No CircleCI agent here: the login's
 * re-mint is not offered (it needs one); the e2e files cover it through the fake agent.
 */
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const MAIN_ONLY = `arn:aws:iam::${ACCOUNT}:role/main-only`;
const ECR_PASSWORD = 'provider-ecr-canary-7d1e';
const ECR_HOST = '127.0.0.1:5998';
const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const noWait: RetryDeps = { sleep: async () => undefined, random: () => 0 };

function capture(): { reporter: Reporter; out: string[] } {
  const out: string[] = [];
  const sink: Sink = { write: (text) => void out.push(text) };
  return { reporter: new Reporter(undefined, sink, sink), out };
}

const loginToken = (token: string, source: LoginToken['first']['source'] = 'CIRCLE_OIDC_TOKEN_V2'): LoginToken => ({ first: { token, source }, claims: decodeTokenClaims(token) });
const stored = (recipe: UngroupedRecipe) => parseRecipe(JSON.stringify({ ...recipe, group: groupId(recipe) }));
const refreshDeps: RefreshDeps = { env: {}, run: async () => ({ exitCode: 1, stdout: '', stderr: '' }), retry: noWait };

describe('the AWS provider against the local AWS', () => {
  let local: LocalAws;
  let dir: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    local = await startLocalAws({
      roles: { [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT] }, [MAIN_ONLY]: { subPattern: 'org/*/vcs-ref/refs/heads/release' } },
      ecrPassword: ECR_PASSWORD,
      proxyEndpoints: { [ACCOUNT]: `https://${ECR_HOST}` },
    });
    dir = mkdtempSync(join(tmpdir(), 'regauth-providers-'));
    writeFileSync(join(dir, 'empty'), '');
    // The SDK reads process.env: only the local stack, no ~/.aws, no ambient keys or proxies.
    for (const name of Object.keys(process.env)) if (/^(AWS_|HTTPS?_PROXY$|NO_PROXY$)/i.test(name)) delete process.env[name];
    Object.assign(process.env, local.endpointEnv(), { AWS_CONFIG_FILE: join(dir, 'empty'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'empty'), AWS_EC2_METADATA_DISABLED: 'true' });
  }, 60_000);
  afterAll(async () => {
    process.env = savedEnv;
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const inputsFor = (role: string) => aws.parse({ REGAUTH_ROLE_ARN: role, REGAUTH_REGION: 'us-east-1', REGAUTH_ACCOUNT_IDS: ACCOUNT, REGAUTH_REFRESH: 'true' });

  it('the login and the helper mint the same registries; the login keeps every secret out of its lines', async () => {
    const inputs = inputsFor(ROLE);
    const { reporter, out } = capture();
    local.resetCounters();
    const minted = await aws.login(inputs, loginToken(await local.mintToken()), { env: process.env, reporter, retry: noWait });
    const registries = aws.registries(inputs, minted);
    expect(registries.map((r) => [r.host, r.username, r.secret])).toEqual([[ECR_HOST, 'AWS', ECR_PASSWORD]]);
    reporter.line(`regauth: ${minted.credentials.secretAccessKey} ${minted.credentials.sessionToken} ${ECR_PASSWORD}`);
    expect(out).toEqual(['regauth: *** *** ***\n']);

    const recipe = aws.recipe(inputs, local.orgId, registries.map((r) => r.host), process.env);
    const refreshed = await aws.refresh(stored(recipe), await local.mintToken(), refreshDeps);
    expect(refreshed.registries.map((r) => [r.host, r.username, r.secret])).toEqual([[ECR_HOST, 'AWS', ECR_PASSWORD]]);
    expect(refreshed.awsCredentials?.accessKeyId).toMatch(/^ASIA/);
    expect(refreshed.secrets).toEqual(expect.arrayContaining([refreshed.awsCredentials?.secretAccessKey, refreshed.awsCredentials?.sessionToken, ECR_PASSWORD]));
    expect({ sts: local.count('sts', 'AssumeRoleWithWebIdentity'), ecr: local.count('ecr', 'GetAuthorizationToken') }).toEqual({ sts: 2, ecr: 2 });
  });

  it('a refused token is diagnosed at login (the claims beside the trust policy, then one closing error)', async () => {
    const { reporter, out } = capture();
    const error = await aws.login(inputsFor(MAIN_ONLY), loginToken(await local.mintToken()), { env: process.env, reporter, retry: noWait }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/^sts:AssumeRoleWithWebIdentity failed: AccessDenied .*; likely cause: /);
    expect(out).toHaveLength(3);
    expect(out[1]).toContain(`regauth: the trust policy of ${MAIN_ONLY} must allow sts:AssumeRoleWithWebIdentity`);
  });

  it('the helper retries less than the login: docker is waiting', async () => {
    const inputs = inputsFor(ROLE);
    const recipe = stored(aws.recipe(inputs, local.orgId, [ECR_HOST], process.env));
    local.resetCounters();
    local.failNext('sts', 4, 'Throttling');
    await expect(aws.refresh(recipe, await local.mintToken(), refreshDeps)).rejects.toThrow(/Throttling/);
    expect(local.count('sts', 'AssumeRoleWithWebIdentity')).toBe(3);
    local.clearFaults();
    local.resetCounters();
    local.failNext('sts', 4, 'Throttling');
    const { reporter, out } = capture();
    await aws.login(inputs, loginToken(await local.mintToken()), { env: process.env, reporter, retry: noWait });
    expect(local.count('sts', 'AssumeRoleWithWebIdentity')).toBe(5);
    expect(out.filter((line) => line.startsWith('regauth: sts:AssumeRoleWithWebIdentity failed (attempt'))).toHaveLength(4);
    local.clearFaults();
  });
});

describe('the Google provider against the local Google', () => {
  let google: LocalGoogle;
  const PROJECT_MAPPING = { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" };

  beforeAll(async () => {
    google = await startLocalGoogle({ attributeMapping: PROJECT_MAPPING });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
  }, 60_000);
  afterAll(async () => {
    await google?.stop();
  });

  const env = (extra: Record<string, string> = {}) => ({
    REGAUTH_WORKLOAD_IDENTITY_PROVIDER: google.providerName,
    REGAUTH_SERVICE_ACCOUNT: SA,
    REGAUTH_REGISTRIES: 'us-docker.pkg.dev',
    REGAUTH_REFRESH: 'true',
    ...google.endpointEnv(),
    ...extra,
  });

  it('the login and the helper mint live access tokens the same way, the helper from the recipe alone', async () => {
    const inputs = gcp.parse(env());
    const { reporter, out } = capture();
    google.resetCounters();
    const minted = await gcp.login(inputs, loginToken(await google.mintToken()), { env: env(), reporter, retry: noWait });
    expect(minted.kind).toBe('impersonated');
    expect(google.verifyAccessToken(minted.accessToken)).toBeDefined();
    reporter.line(`regauth: ${minted.accessToken}`);
    expect(out).toEqual(['regauth: ***\n']);

    const recipe = gcp.recipe(inputs, google.orgId, ['us-docker.pkg.dev'], env());
    const refreshed = await gcp.refresh(stored(recipe), await google.mintToken(), refreshDeps);
    const [registry] = refreshed.registries;
    expect(registry?.username).toBe('oauth2accesstoken');
    expect(google.verifyAccessToken(registry?.secret ?? '')).toBeDefined();
    expect(refreshed.secrets).toEqual([registry?.secret]);
    expect({ sts: google.count('sts'), iam: google.count('iam') }).toEqual({ sts: 2, iam: 2 });
  });

  it('a login whose v2 sub maps to a google.subject over 127 bytes exchanges the job\'s v1 token instead, once, and says so', async () => {
    google.setProvider({ attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
    try {
      const v1 = await google.mintToken({ version: 'v1' });
      const inputs = gcp.parse(env());
      const { reporter, out } = capture();
      const minted = await gcp.login(inputs, loginToken(await google.mintToken()), { env: env({ CIRCLE_OIDC_TOKEN: v1 }), reporter, retry: noWait });
      expect(minted.jobToken).toBe(v1);
      expect(google.verifyAccessToken(minted.accessToken)).toBeDefined();
      expect(out).toHaveLength(1);
      expect(out[0]).toMatch(/^regauth: Google refused CIRCLE_OIDC_TOKEN_V2: its sub \(\d+ bytes\) maps to a google\.subject over 127 bytes; exchanging CIRCLE_OIDC_TOKEN \(sub \d+ bytes\) instead\n$/);
      // Without a v1 token the refusal is diagnosed: the claims and what the provider must map.
      const alone = capture();
      const error = await gcp.login(inputs, loginToken(await google.mintToken()), { env: env(), reporter: alone.reporter, retry: noWait }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toMatch(/^sts\.googleapis\.com token exchange failed: .*; likely cause: /);
      expect(alone.out.length).toBeGreaterThanOrEqual(2);
    } finally {
      google.setProvider({ attributeMapping: PROJECT_MAPPING });
    }
  });
});
