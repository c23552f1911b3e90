import { describe, expect, it } from 'vitest';
import type { AwsEcrRecipe } from '../../../src/clouds/aws/recipe.ts';
import { parseRecipe } from '../../../src/refresh/recipe.ts';
import { groupId } from '../../../src/refresh/setup.ts';

const HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

describe('recipes', () => {
  const recipe: Omit<AwsEcrRecipe, 'group'> = {
    kind: 'aws-ecr', audience: 'org', hosts: [HOST], roleArn: 'arn:aws:iam::123456789012:role/r', region: 'us-east-1', accountIds: [], includePublic: false, sessionName: 's1', durationSeconds: 3600,
  };
  it('get a group id from their kind and fields (not their hosts), and parse back', () => {
    const group = groupId(recipe);
    expect(group).toMatch(/^aws-ecr-[0-9a-f]{12}$/);
    expect(groupId({ ...recipe, hosts: ['other.example'] })).toBe(group);
    expect(groupId({ ...recipe, region: 'eu-west-1' })).not.toBe(group);
    expect(parseRecipe(JSON.stringify({ ...recipe, group }))).toMatchObject({ kind: 'aws-ecr', group });
  });
  it('are refused with a wrong kind for their group, no audience, or a host with a path in it', () => {
    const group = groupId(recipe);
    expect(() => parseRecipe(JSON.stringify({ ...recipe, group, kind: 'gcp' }))).toThrow(/kind and group/);
    expect(() => parseRecipe(JSON.stringify({ ...recipe, group, audience: '' }))).toThrow(/audience/);
    expect(() => parseRecipe(JSON.stringify({ ...recipe, group, hosts: ['../../etc'] }))).toThrow(/hosts/);
  });
});
