import { describe, expect, it } from 'vitest';
import { GOOGLE_REGISTRY_USERNAME, gcpProvider as gcp } from '../../../../src/clouds/gcp/provider.ts';
import { checkGcpRecipe } from '../../../../src/clouds/gcp/recipe.ts';
import { GoogleCallError } from '../../../../src/clouds/gcp/errors.ts';
import { DEFAULT_GOOGLE_ENDPOINTS } from '../../../../src/clouds/gcp/mint.ts';
import { UserError } from '../../../../src/core/errors.ts';
import { parseRecipe } from '../../../../src/refresh/recipe.ts';
import { groupId } from '../../../../src/refresh/setup.ts';

const ORG = '7f4cd3c7-3a2b-4a52-8b6e-1b0f7c9e2d11';
const PROVIDER = 'projects/123456789/locations/global/workloadIdentityPools/circleci/providers/acme-org';
const SA = 'ci-pull@my-project.iam.gserviceaccount.com';
const env = {
  REGAUTH_WORKLOAD_IDENTITY_PROVIDER: PROVIDER,
  REGAUTH_SERVICE_ACCOUNT: SA,
  REGAUTH_REGISTRIES: 'us-docker.pkg.dev gcr.io',
  REGAUTH_TOKEN_LIFETIME: '1200',
  REGAUTH_REFRESH: 'true',
  CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'https://sts.example.test/',
  CLOUDSDK_CORE_PROJECT: 'not-carried',
};
const inputs = gcp.parse(env);
const claims = { iss: `https://oidc.circleci.com/org/${ORG}`, aud: ORG, sub: `org/${ORG}/project/p/user/u`, exp: Date.now() / 1000 + 600, 'oidc.circleci.com/project-id': 'p' };

describe('the Google provider', () => {
  it("mints with the login's provider, service account, lifetime and endpoints", () => {
    expect(gcp.target(inputs)).toEqual({ workloadIdentityProvider: PROVIDER, serviceAccount: SA, tokenLifetimeSeconds: 1200, endpoints: { ...DEFAULT_GOOGLE_ENDPOINTS, sts: 'https://sts.example.test/' } });
  });

  it('logs in to every registry with the one access token', () => {
    const expiresAt = new Date(Date.UTC(2026, 0, 1));
    expect(gcp.registries(inputs, { accessToken: 'ya29.token', expiresAt, kind: 'impersonated' })).toEqual([
      { host: 'us-docker.pkg.dev', username: GOOGLE_REGISTRY_USERNAME, secret: 'ya29.token', expiresAt },
      { host: 'gcr.io', username: GOOGLE_REGISTRY_USERNAME, secret: 'ya29.token', expiresAt },
    ]);
  });

  it('builds a recipe carrying only the endpoint overrides, that reads back and checks', () => {
    const recipe = gcp.recipe(inputs, ORG, ['us-docker.pkg.dev', 'gcr.io'], env);
    expect(recipe).toEqual({ kind: gcp.kind, audience: ORG, hosts: ['us-docker.pkg.dev', 'gcr.io'], provider: PROVIDER, serviceAccount: SA, tokenLifetimeSeconds: 1200, settings: { CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'https://sts.example.test/' } });
    const stored = parseRecipe(JSON.stringify({ ...recipe, group: groupId(recipe) }));
    expect(stored.group).toMatch(/^gcp-[0-9a-f]{12}$/);
    expect(checkGcpRecipe(stored)).toEqual(stored);
  });

  it('diagnoses a refused exchange or impersonation from the claims, and nothing else', () => {
    const exchange = new GoogleCallError('sts.googleapis.com token exchange', { kind: 'permanent', code: 'invalid_grant', status: 400, message: 'The audience in ID Token does not match the expected audience.' }, 1);
    const refusedExchange = gcp.diagnose(exchange, claims, inputs);
    expect(refusedExchange?.lines.length).toBeGreaterThanOrEqual(2);
    expect(refusedExchange?.error).toBeInstanceOf(UserError);
    expect(refusedExchange?.error.message).toMatch(/^sts\.googleapis\.com token exchange failed: .*; likely cause: /);
    const impersonation = new GoogleCallError('iamcredentials generateAccessToken', { kind: 'permanent', code: 'PERMISSION_DENIED', status: 403, message: 'Permission denied' }, 1);
    expect(gcp.diagnose(impersonation, claims, inputs)?.lines.join('\n')).toContain(`add-iam-policy-binding ${SA} --role=roles/iam.workloadIdentityUser`);
    expect(gcp.diagnose(new GoogleCallError('iamcredentials generateAccessToken', { kind: 'permanent', code: 'NOT_FOUND', status: 404, message: '' }, 1), claims, inputs)).toBeUndefined();
    expect(gcp.diagnose(new GoogleCallError('sts.googleapis.com token exchange', { kind: 'transient', code: 'HTTP 503', status: 503, message: '' }, 5), claims, inputs)).toBeUndefined();
    expect(gcp.diagnose(new Error('bug'), claims, inputs)).toBeUndefined();
  });

  it("refuses a recipe that names another kind or endpoints the login did not carry, before any request", async () => {
    const recipe = gcp.recipe(inputs, ORG, ['gcr.io'], env);
    const stored = { ...recipe, group: groupId(recipe) };
    const deps = { env: {}, run: async () => ({ exitCode: 1, stdout: '', stderr: '' }), retry: { sleep: async () => undefined, random: () => 0 } };
    await expect(gcp.refresh({ ...stored, kind: 'aws-ecr' }, 'job-token', deps)).rejects.toThrow(/not gcp/);
    await expect(gcp.refresh({ ...stored, settings: { HTTPS_PROXY: 'http://evil.example' } }, 'job-token', deps)).rejects.toThrow(/invalid setting "HTTPS_PROXY"/);
    await expect(gcp.refresh({ ...stored, settings: { CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'http://evil.example/' } }, 'job-token', deps)).rejects.toThrow(/CLOUDSDK_API_ENDPOINT_OVERRIDES_STS/);
  });
});
