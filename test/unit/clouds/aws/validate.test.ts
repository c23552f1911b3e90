import { describe, expect, it } from 'vitest';
import { accountIdProblem, ecrRegistryHostProblem, parseEcrRegistryHost, parseRoleArn, regionProblem, roleArnProblem } from '../../../../src/clouds/aws/validate.ts';

describe('role ARN', () => {
  it.each([
    ['arn:aws:iam::123456789012:role/ci-pull', { partition: 'aws', account: '123456789012', path: '/', name: 'ci-pull' }],
    ['arn:aws-cn:iam::123456789012:role/a/b/ci+=,.@_-', { partition: 'aws-cn', account: '123456789012', path: '/a/b/', name: 'ci+=,.@_-' }],
    ['arn:aws-us-gov:iam::123456789012:role/x', { partition: 'aws-us-gov', account: '123456789012', path: '/', name: 'x' }],
    ['arn:aws-iso:iam::123456789012:role/x', { partition: 'aws-iso', account: '123456789012', path: '/', name: 'x' }],
    ['arn:aws-iso-b:iam::123456789012:role/x', { partition: 'aws-iso-b', account: '123456789012', path: '/', name: 'x' }],
  ])('accepts %s', (arn, parsed) => {
    expect(parseRoleArn(arn)).toEqual(parsed);
    expect(roleArnProblem(arn)).toBeUndefined();
  });

  it.each([
    ['', /is empty/],
    ['ci-pull', /must be an IAM role ARN/],
    ['arn:azure:iam::123456789012:role/x', /unknown partition "azure"/],
    ['arn:aws:sts::123456789012:role/x', /service "sts"/],
    ['arn:aws:iam::12345678901:role/x', /12-digit account id, got "12345678901"/],
    ['arn:aws:iam::123456789012:user/x', /must name a role/],
    ['arn:aws:iam::123456789012:role/', /invalid role name/],
    ['arn:aws:iam::123456789012:role/bad name', /invalid role name/],
    [`arn:aws:iam::123456789012:role/${'a'.repeat(65)}`, /invalid role name/],
    ['arn:aws:iam::123456789012:role/x;rm', /invalid role name/],
  ])('rejects %j', (arn, reason) => {
    expect(parseRoleArn(arn)).toBeUndefined();
    expect(roleArnProblem(arn)).toMatch(reason);
  });
});

describe('region', () => {
  it.each(['us-east-1', 'eu-west-2', 'cn-north-1', 'us-gov-west-1', 'us-isob-east-1', 'ap-southeast-5', 'eusc-de-east-1'])('accepts %s', (region) => {
    expect(regionProblem(region)).toBeUndefined();
  });
  it.each(['', 'us-east', 'US-EAST-1', 'useast1', 'us-east-1a', 'us_east_1', 'x-east-1', 'us-east-1 '])('rejects %j', (region) => {
    expect(regionProblem(region)).toBeDefined();
  });
});

describe('account id', () => {
  it.each([
    ['123456789012', true],
    ['012345678901', true],
    ['12345678901', false],
    ['1234567890123', false],
    ['12345678901a', false],
  ])('%s → %s', (id, ok) => expect(accountIdProblem(id) === undefined).toBe(ok));
});

describe('ECR registry host', () => {
  it.each([
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', { account: '123456789012', region: 'us-east-1', fips: false, domain: 'amazonaws.com' }],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', { account: '123456789012', region: 'us-gov-west-1', fips: true, domain: 'amazonaws.com' }],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', { account: '123456789012', region: 'cn-north-1', fips: false, domain: 'amazonaws.com.cn' }],
    ['123456789012.dkr-ecr.us-east-1.on.aws', { account: '123456789012', region: 'us-east-1', fips: false, domain: 'on.aws' }],
    ['123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov', { account: '123456789012', region: 'us-isob-east-1', fips: false, domain: 'sc2s.sgov.gov' }],
    ['123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu', { account: '123456789012', region: 'eusc-de-east-1', fips: false, domain: 'amazonaws.eu' }],
  ])('parses %s', (host, parsed) => {
    expect(parseEcrRegistryHost(host)).toEqual(parsed);
  });
  it.each(['public.ecr.aws', '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io', '12345678901.dkr.ecr.us-east-1.amazonaws.com', 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com:443'])(
    'rejects %s',
    (host) => {
      expect(ecrRegistryHostProblem(host)).toMatch(/must be an ECR registry host/);
    },
  );
});
