import { describe, expect, it } from 'vitest';
import { awsSettings, checkAwsRecipe, pinnedAwsEnv, withProcessEnv } from '../../../../src/clouds/aws/recipe.ts';

describe('the AWS recipe', () => {
  it('carries only the SDK endpoint settings that are set, none of which holds a secret', () => {
    expect(awsSettings({ AWS_ENDPOINT_URL: 'https://a.example', AWS_ENDPOINT_URL_ECR: 'https://e.example', AWS_USE_FIPS_ENDPOINT: 'true', AWS_SESSION_TOKEN: 't', AWS_ACCESS_KEY_ID: 'k', AWS_REGION: 'x', AWS_CA_BUNDLE: '' })).toEqual({
      AWS_ENDPOINT_URL: 'https://a.example',
      AWS_ENDPOINT_URL_ECR: 'https://e.example',
      AWS_USE_FIPS_ENDPOINT: 'true',
    });
  });

  it('is checked for kind and region (the region names the STS host)', () => {
    const base = { kind: 'aws-ecr', group: 'aws-ecr-000000000000', audience: 'a', hosts: ['h.example'], region: 'eu-west-1' };
    expect(checkAwsRecipe(base)).toBe(base);
    for (const region of [undefined, '', 'eu-west-1.evil.example', 'x/y']) expect(() => checkAwsRecipe({ ...base, region })).toThrow(/kind and region/);
    expect(() => checkAwsRecipe({ ...base, kind: 'gcp' })).toThrow(/kind and region/);
  });

  it("pins the SDK's environment to the login's settings: the asking step's endpoints and profiles are unset", () => {
    const pinned = pinnedAwsEnv({ settings: { AWS_ENDPOINT_URL_STS: 'https://login.example' } }, { AWS_ENDPOINT_URL: 'https://step.example', AWS_ENDPOINT_URL_STS: 'https://step.example', AWS_PROFILE: 'lab', HOME: '/h' });
    expect(pinned).toEqual({
      AWS_ENDPOINT_URL: undefined,
      AWS_ENDPOINT_URL_STS: 'https://login.example',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PROFILE: undefined,
      AWS_DEFAULT_PROFILE: undefined,
    });
    expect(() => pinnedAwsEnv({ settings: { NODE_OPTIONS: '--require /x.js' } }, {})).toThrow(/invalid setting "NODE_OPTIONS"/);
  });

  it('applies the pinned environment only while the work runs, also when it fails', async () => {
    const name = 'REGAUTH_TEST_PINNED_VARIABLE';
    process.env[name] = 'step';
    try {
      await expect(withProcessEnv({ [name]: undefined }, async () => {
        expect(process.env[name]).toBeUndefined();
        throw new Error('refused');
      })).rejects.toThrow('refused');
      expect(process.env[name]).toBe('step');
    } finally {
      delete process.env[name];
    }
  });
});
