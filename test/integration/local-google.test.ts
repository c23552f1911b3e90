import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExternalAccountClient } from 'google-auth-library';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { externalAccountConfig, GoogleCallError, mintGoogleAccessToken, type GoogleMintSettings } from '../../src/clouds/gcp/index.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { makeTempDir, type TempDir } from '../../testbed/tempdir.ts';
import { missingTools } from '../../testbed/tools.ts';

/**
 * The local Google must be faithful enough that Google's own client library accepts its answers
 * and its refusals: google-auth-library reads an external-account file (written by regauth's own
 * builder, externalAccountConfig) and exchanges the job token through STS and generateAccessToken.
 * gcloud, where installed, is a second independent client.
 */
const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const UNBOUND_SA = 'no-binding@acme-project.iam.gserviceaccount.com';
const run = promisify(execFile);
const noRetry = { retryPolicy: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxServerWaitMs: 1 } };

describe('local Google, seen by google-auth-library (and gcloud where installed)', () => {
  let google: LocalGoogle;
  let dir: TempDir;
  let files = 0;

  beforeAll(async () => {
    google = await startLocalGoogle({ attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    google.setServiceAccount(UNBOUND_SA, { workloadIdentityUsers: [google.projectPrincipalSet('some-other-project')] });
    dir = makeTempDir('regauth-local-google-');
  });
  afterAll(async () => {
    await google?.stop();
    await dir?.remove();
  });
  afterEach(() => {
    google.resetCounters();
    google.clearFaults();
  });

  const settings = (serviceAccount = SA, tokenLifetimeSeconds = 3600): GoogleMintSettings => ({
    workloadIdentityProvider: google.providerName,
    serviceAccount,
    tokenLifetimeSeconds,
    endpoints: { sts: google.urls.sts, iamCredentials: google.urls.iamCredentials },
  });

  /** An external-account file (regauth's builder) whose credential_source file holds `token`. */
  function credentialFile(token: string, serviceAccount = SA): string {
    files += 1;
    const tokenFile = join(dir.path, `token-${files}`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const file = join(dir.path, `cred-${files}.json`);
    writeFileSync(file, JSON.stringify(externalAccountConfig(settings(serviceAccount), { file: tokenFile, format: { type: 'text' } })), { mode: 0o600 });
    return file;
  }

  async function libraryToken(token: string, serviceAccount = SA): Promise<string> {
    const { readFileSync } = await import('node:fs');
    const client = ExternalAccountClient.fromJSON(JSON.parse(readFileSync(credentialFile(token, serviceAccount), 'utf8')) as Parameters<typeof ExternalAccountClient.fromJSON>[0]);
    if (!client) throw new Error('google-auth-library did not accept the external-account file');
    const { token: access } = await client.getAccessToken();
    return access ?? '';
  }

  it('google-auth-library exchanges a job token and impersonates the service account', async () => {
    const access = await libraryToken(await google.mintToken());
    expect(access).toMatch(/^ya29\.c\./);
    expect(google.verifyAccessToken(access)?.serviceAccount).toBe(SA);
    expect(google.log.map((e) => [e.service, e.status])).toEqual([
      ['sts', 200],
      ['iam', 200],
    ]);
    expect(google.log[0]?.audience).toBe(`//iam.googleapis.com/${google.providerName}`);
  });

  it('google-auth-library without impersonation gets the federated token itself', async () => {
    const access = await libraryToken(await google.mintToken(), '');
    expect(google.verifyAccessToken(access)?.kind).toBe('federated');
    expect(google.log.map((e) => e.service)).toEqual(['sts']);
  });

  it.each([
    ['a wrong audience', () => google.mintToken({ aud: 'not-the-org' }), /invalid_grant.*audience/s],
    ['an expired JWT', () => google.mintToken({ iat: Math.floor(Date.now() / 1000) - 7200 }), /invalid_grant.*expired/s],
    ['a bad signature', () => google.forgeToken(), /invalid_grant.*signature/s],
    ['another issuer', () => google.mintToken({ iss: 'https://oidc.circleci.com/org/someone-else' }), /invalid_grant.*issuer/s],
  ])('google-auth-library is refused for %s, as Google refuses it', async (_name, token, pattern) => {
    await expect(libraryToken(await token())).rejects.toThrow(pattern);
    expect(google.log.map((e) => [e.service, e.status])).toEqual([['sts', 400]]);
  });

  it('google-auth-library is refused generateAccessToken without the workloadIdentityUser binding', async () => {
    await expect(libraryToken(await google.mintToken(), UNBOUND_SA)).rejects.toThrow(/iam\.serviceAccounts\.getAccessToken/);
    expect(google.log.map((e) => [e.service, e.status, e.errorCode])).toEqual([
      ['sts', 200, undefined],
      ['iam', 403, 'PERMISSION_DENIED'],
    ]);
  });

  it("regauth's mint sends the same requests the library does and gets the same kind of token", async () => {
    const minted = await mintGoogleAccessToken(settings(), await google.mintToken(), noRetry);
    expect(minted.kind).toBe('impersonated');
    expect(google.verifyAccessToken(minted.accessToken)?.serviceAccount).toBe(SA);
    expect(minted.expiresAt.getTime() - Date.now()).toBeGreaterThan(3500_000);
    expect(google.log.map((e) => [e.service, e.status, e.contentType])).toEqual([
      ['sts', 200, 'application/x-www-form-urlencoded'],
      ['iam', 200, 'application/json'],
    ]);
  });

  it("regauth's mint ends a request Google never answers at its deadline and retries it", async () => {
    google.failNext('sts', 1, 'hang');
    const retried: string[] = [];
    const minted = await mintGoogleAccessToken(settings(), await google.mintToken(), {
      timeoutMs: 300,
      retryDeps: { sleep: async () => undefined, random: () => 0 },
      onRetry: (_op, attempt, verdict) => retried.push(`${attempt} ${verdict.reason}`),
    });
    expect(minted.kind).toBe('impersonated');
    expect(google.count('sts')).toBe(2);
    expect(retried).toEqual([expect.stringMatching(/^1 ETIMEDOUT: no answer from 127\.0\.0\.1:\d+ within 0\.3 s$/)]);
  });

  it('answers JSON token-exchange bodies as Google does', async () => {
    const response = await fetch(`${google.urls.sts}v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        audience: `//iam.googleapis.com/${google.providerName}`,
        grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
        requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
        scope: 'https://www.googleapis.com/auth/cloud-platform',
        subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
        subjectToken: await google.mintToken(),
      }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', expires_in: 3600 });
  });

  it('enforces the 127-byte google.subject limit, the attribute condition and unknown providers', async () => {
    google.setProvider({ attributeMapping: { 'google.subject': 'assertion.sub' } });
    try {
      const v2 = await google.mintToken();
      expect(Buffer.byteLength(google.issuer.claims().sub ?? '')).toBeGreaterThan(127);
      const tooLong = await mintGoogleAccessToken(settings(), v2, noRetry).catch((e: unknown) => e);
      expect(tooLong).toBeInstanceOf(GoogleCallError);
      expect((tooLong as GoogleCallError).code).toBe('invalid_request');
      expect((tooLong as GoogleCallError).message).toContain('google.subject exceeds the 127 bytes limit');
      expect((await mintGoogleAccessToken(settings(''), await google.mintToken({ version: 'v1' }), noRetry)).kind).toBe('federated');

      google.setProvider({ attributeCondition: "assertion['oidc.circleci.com/project-id'] == 'another-project'" });
      const rejected = await mintGoogleAccessToken(settings(''), await google.mintToken({ version: 'v1' }), noRetry).catch((e: unknown) => e);
      expect((rejected as GoogleCallError).code).toBe('unauthorized_client');
      const unknown = await mintGoogleAccessToken({ ...settings(''), workloadIdentityProvider: `projects/${google.projectNumber}/locations/global/workloadIdentityPools/nope-pool/providers/nope` }, await google.mintToken(), noRetry).catch((e: unknown) => e);
      expect((unknown as GoogleCallError).code).toBe('invalid_target');
    } finally {
      google.setProvider({ attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" }, attributeCondition: undefined });
    }
  });

  it('refuses lifetimes over 3600 s unless the lifetime-extension policy covers the account, and issued lifetimes are the test\'s to set', async () => {
    const refused = await mintGoogleAccessToken(settings(SA, 7200), await google.mintToken(), noRetry).catch((e: unknown) => e);
    expect((refused as GoogleCallError).code).toBe('INVALID_ARGUMENT');
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()], allowLifetimeExtension: true });
    google.setLifetimes({ accessSeconds: 2 });
    try {
      const minted = await mintGoogleAccessToken(settings(SA, 7200), await google.mintToken(), noRetry);
      expect(google.verifyAccessToken(minted.accessToken)).toBeDefined();
      google.advance(3);
      expect(google.verifyAccessToken(minted.accessToken)).toBeUndefined();
    } finally {
      google.advance(-3);
      google.setLifetimes({ accessSeconds: undefined });
      google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    }
  });

  const gcloudMissing = missingTools(['gcloud']).length > 0;
  it.skipIf(gcloudMissing)('gcloud auth print-access-token, pointed at the file by CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE, gets an impersonated token through the override endpoints', async () => {
    const config = join(dir.path, 'gcloud-config');
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir.path,
      CLOUDSDK_CONFIG: config,
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
      CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE: credentialFile(await google.mintToken()),
      ...google.endpointEnv(),
    };
    const { stdout } = await run('gcloud', ['auth', 'print-access-token'], { env });
    expect(google.verifyAccessToken(stdout.trim())?.serviceAccount).toBe(SA);
  }, 60_000);
  if (gcloudMissing) console.warn('skipping the gcloud client check: gcloud is not installed (it is not on CI machines)');
});
