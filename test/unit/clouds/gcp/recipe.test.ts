import { describe, expect, it } from 'vitest';
import { checkGcpRecipe, gcpSettings, type GcpRecipe } from '../../../../src/clouds/gcp/recipe.ts';
import { parseRecipe } from '../../../../src/refresh/recipe.ts';
import { groupId } from '../../../../src/refresh/setup.ts';

const base: Omit<GcpRecipe, 'group'> = {
  kind: 'gcp',
  audience: '7f4cd3c7-3a2b-4a52-8b6e-1b0f7c9e2d11',
  hosts: ['us-docker.pkg.dev', 'gcr.io'],
  provider: 'projects/123456789/locations/global/workloadIdentityPools/circleci/providers/acme-org',
  serviceAccount: 'ci-pull@acme-project.iam.gserviceaccount.com',
  tokenLifetimeSeconds: 3600,
  settings: { CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'https://sts.example.test/' },
};
const recipe: GcpRecipe = { ...base, group: groupId(base) };

describe('the gcp recipe, read back from its file', () => {
  it('round-trips, and its group names its kind', () => {
    expect(recipe.group).toMatch(/^gcp-[0-9a-f]{12}$/);
    const read = parseRecipe(JSON.stringify(recipe));
    expect(read).toEqual(recipe);
    expect(() => checkGcpRecipe(read as GcpRecipe)).not.toThrow();
    expect(() => checkGcpRecipe({ ...recipe, serviceAccount: '' })).not.toThrow();
  });

  it.each([
    [{ provider: 'projects/1/locations/global/workloadIdentityPools/p/providers/x' }, /workload identity provider/],
    [{ provider: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov' }, /workload identity provider/],
    [{ serviceAccount: 'ci@evil.example.com' }, /service account/],
    [{ serviceAccount: 7 }, /service account/],
    [{ tokenLifetimeSeconds: 100 }, /token lifetime/],
    [{ tokenLifetimeSeconds: '3600' }, /token lifetime/],
    [{ settings: { LD_PRELOAD: '/tmp/x.so' } }, /invalid setting "LD_PRELOAD"/],
    [{ settings: { CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 1 } }, /invalid setting/],
    [{ settings: ['x'] }, /invalid settings/],
  ] as const)('refuses %j', (change, message) => {
    expect(() => checkGcpRecipe({ ...recipe, ...change } as unknown as GcpRecipe)).toThrow(message);
  });

  it('carries only gcloud endpoint overrides that are set', () => {
    expect(gcpSettings({ CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'https://sts.example.test/', CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: ' ', CLOUDSDK_CORE_PROJECT: 'p', HOME: '/h' })).toEqual({
      CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'https://sts.example.test/',
    });
  });
});
