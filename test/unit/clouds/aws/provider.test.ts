import { describe, expect, it } from 'vitest';
import { awsEcrProvider as aws } from '../../../../src/clouds/aws/provider.ts';
import { checkAwsRecipe } from '../../../../src/clouds/aws/recipe.ts';
import { AwsCallError } from '../../../../src/clouds/aws/errors.ts';
import { UserError } from '../../../../src/core/errors.ts';
import { parseRecipe } from '../../../../src/refresh/recipe.ts';
import { groupId } from '../../../../src/refresh/setup.ts';

const ORG = '7f4cd3c7-3a2b-4a52-8b6e-1b0f7c9e2d11';
const ROLE = 'arn:aws:iam::123456789012:role/ci-pull';
const HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const env = {
  REGAUTH_ROLE_ARN: ROLE,
  REGAUTH_REGION: 'us-east-1',
  REGAUTH_ACCOUNT_IDS: '123456789012',
  REGAUTH_ROLE_SESSION_NAME: 'ci-42',
  REGAUTH_SESSION_DURATION: '1800',
  REGAUTH_PUBLIC: 'true',
  REGAUTH_REFRESH: 'true',
  AWS_ENDPOINT_URL_STS: 'https://sts.example.test',
  AWS_SECRET_ACCESS_KEY: 'never-in-a-recipe',
};
const inputs = aws.parse(env);
const claims = { iss: `https://oidc.circleci.com/org/${ORG}`, aud: ORG, sub: `org/${ORG}/project/p/user/u`, exp: Date.now() / 1000 + 600 };
const login = (registry: string) => ({ registry, username: 'AWS', password: `pw-for-${registry}`, expiresAt: new Date(Date.UTC(2026, 0, 1)) });

describe('the AWS provider', () => {
  it('mints from the same target whether a login or a recipe names it', () => {
    expect(aws.target(inputs)).toEqual({ region: 'us-east-1', accountIds: ['123456789012'], includePublic: true, roleArn: ROLE, sessionName: 'ci-42', durationSeconds: 1800 });
    const recipe = aws.recipe(inputs, ORG, [HOST], env);
    // The recipe holds the target's fields under the same names: the helper's mint reads it as a target.
    expect(recipe).toMatchObject({ kind: aws.kind, audience: ORG, hosts: [HOST], ...aws.target(inputs) });
  });

  it('builds a recipe without a secret, carrying only the SDK endpoint settings, that reads back and checks', () => {
    const recipe = aws.recipe(inputs, ORG, [HOST], env);
    expect(recipe.settings).toEqual({ AWS_ENDPOINT_URL_STS: 'https://sts.example.test' });
    expect(JSON.stringify(recipe)).not.toContain('never-in-a-recipe');
    const stored = parseRecipe(JSON.stringify({ ...recipe, group: groupId(recipe) }));
    expect(stored.group).toMatch(/^aws-ecr-[0-9a-f]{12}$/);
    expect(checkAwsRecipe(stored)).toEqual(stored);
  });

  it('gives docker one registry per host ECR named, and refuses a host regauth cannot use before any login', () => {
    const minted = { credentials: { accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T', expiration: new Date() }, logins: [login(HOST), login('public.ecr.aws')] };
    expect(aws.registries(inputs, minted)).toEqual([
      { host: HOST, username: 'AWS', secret: `pw-for-${HOST}`, expiresAt: login(HOST).expiresAt },
      { host: 'public.ecr.aws', username: 'AWS', secret: 'pw-for-public.ecr.aws', expiresAt: login(HOST).expiresAt },
    ]);
    expect(() => aws.registries(inputs, { ...minted, logins: [login('evil.example/path')] })).toThrow(/ECR answered a proxyEndpoint host that .*nothing was logged in to it/);
  });

  it("diagnoses STS refusing the token (the claims beside the trust policy, one closing line), and nothing else", () => {
    const refused = new AwsCallError('sts:AssumeRoleWithWebIdentity', { kind: 'permanent', code: 'AccessDenied', status: 403, message: 'Not authorized' }, 1);
    const diagnosed = aws.diagnose(refused, claims, inputs);
    expect(diagnosed?.lines).toHaveLength(3);
    expect(diagnosed?.lines[1]).toContain(`the trust policy of ${ROLE} must allow sts:AssumeRoleWithWebIdentity`);
    expect(diagnosed?.error).toBeInstanceOf(UserError);
    expect(diagnosed?.error.message).toMatch(/^sts:AssumeRoleWithWebIdentity failed: AccessDenied .*; likely cause: .*check role_arn's trust policy$/);
    // ECR's refusal, a transient STS failure and a bug are not the trust policy's business.
    expect(aws.diagnose(new AwsCallError('ecr:GetAuthorizationToken', { kind: 'permanent', code: 'AccessDeniedException', message: '' }, 1), claims, inputs)).toBeUndefined();
    expect(aws.diagnose(new AwsCallError('sts:AssumeRoleWithWebIdentity', { kind: 'transient', code: 'Throttling', message: '' }, 5), claims, inputs)).toBeUndefined();
    expect(aws.diagnose(new TypeError('x is undefined'), claims, inputs)).toBeUndefined();
  });

  it('refuses a recipe that could send the job token elsewhere before any request', async () => {
    const recipe = aws.recipe(inputs, ORG, [HOST], env);
    const stored = { ...recipe, group: groupId(recipe) };
    const deps = { env: {}, run: async () => ({ exitCode: 1, stdout: '', stderr: '' }), retry: { sleep: async () => undefined, random: () => 0 } };
    await expect(aws.refresh({ ...stored, region: 'evil.example/x' }, 'job-token', deps)).rejects.toThrow(/no valid kind and region/);
    await expect(aws.refresh({ ...stored, kind: 'gcp' }, 'job-token', deps)).rejects.toThrow(/no valid kind and region/);
    await expect(aws.refresh({ ...stored, settings: { LD_PRELOAD: '/tmp/x.so' } }, 'job-token', deps)).rejects.toThrow(/invalid setting "LD_PRELOAD"/);
  });
});
