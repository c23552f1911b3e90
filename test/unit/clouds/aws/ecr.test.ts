import { describe, expect, it } from 'vitest';
import { decodeAuthorizationToken, registryHostFromProxyEndpoint } from '../../../../src/clouds/aws/ecr.ts';

describe('ECR authorization data', () => {
  it.each([
    ['AWS:password', { username: 'AWS', password: 'password' }],
    ['AWS:pass:with:colons', { username: 'AWS', password: 'pass:with:colons' }],
    ['AWS:', { username: 'AWS', password: '' }],
  ])('decodes base64(%j)', (plain, parts) => {
    expect(decodeAuthorizationToken(Buffer.from(plain).toString('base64'))).toEqual(parts);
  });
  it.each(['nocolon', ':nouser'])('refuses base64(%j)', (plain) => {
    expect(() => decodeAuthorizationToken(Buffer.from(plain).toString('base64'))).toThrow(/user:password/);
  });
  it.each([
    ['https://123456789012.dkr.ecr.us-east-1.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
    ['https://127.0.0.1:5443', '127.0.0.1:5443'],
    ['https://123456789012.dkr-ecr.us-east-1.on.aws/', '123456789012.dkr-ecr.us-east-1.on.aws'],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn'],
  ])('takes the registry host from proxyEndpoint %s', (endpoint, host) => {
    expect(registryHostFromProxyEndpoint(endpoint)).toBe(host);
  });
});
