import { describe, expect, it } from 'vitest';
import { classifyAwsError, describeAwsFailure, sanitizeAwsMessage } from '../../../../src/clouds/aws/errors.ts';

function sdkError(name: string, status: number, message = 'm', extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, ...extra });
}
function netError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyAwsError', () => {
  it.each([
    [sdkError('Throttling', 400), 'transient', 'Throttling'],
    [sdkError('ThrottlingException', 400), 'transient', 'ThrottlingException'],
    [sdkError('TooManyRequestsException', 429), 'transient', 'TooManyRequestsException'],
    [sdkError('InternalFailure', 500), 'transient', 'InternalFailure'],
    [sdkError('ServerException', 500), 'transient', 'ServerException'],
    [sdkError('SomethingNew', 503), 'transient', 'SomethingNew'],
    [sdkError('IDPCommunicationErrorException', 400, 'm', { Code: 'IDPCommunicationError' }), 'transient', 'IDPCommunicationError'],
    [sdkError('IDPCommunicationErrorException', 400), 'transient', 'IDPCommunicationError'],
    [netError('ECONNRESET', 'read ECONNRESET'), 'transient', 'ECONNRESET'],
    [netError('ETIMEDOUT', 'connect ETIMEDOUT'), 'transient', 'ETIMEDOUT'],
    [netError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN sts.us-east-1.amazonaws.com'), 'transient', 'EAI_AGAIN'],
    [new Error('socket hang up'), 'transient', 'NetworkError'],
    [Object.assign(new Error('Connection timed out after 10000 ms'), { name: 'TimeoutError' }), 'transient', 'TimeoutError'],
    [sdkError('InvalidIdentityTokenException', 400, 'm', { Code: 'InvalidIdentityToken' }), 'reauth', 'InvalidIdentityToken'],
    [sdkError('InvalidIdentityTokenException', 400), 'reauth', 'InvalidIdentityToken'],
    [sdkError('ExpiredTokenException', 400), 'reauth', 'ExpiredTokenException'],
    [sdkError('AccessDenied', 403), 'permanent', 'AccessDenied'],
    [sdkError('AccessDeniedException', 400), 'permanent', 'AccessDeniedException'],
    [sdkError('IDPRejectedClaimException', 403, 'm', { Code: 'IDPRejectedClaim' }), 'permanent', 'IDPRejectedClaim'],
    [sdkError('ValidationError', 400), 'permanent', 'ValidationError'],
    [sdkError('InvalidSignatureException', 403), 'permanent', 'InvalidSignatureException'],
    [sdkError('UnrecognizedClientException', 403), 'permanent', 'UnrecognizedClientException'],
    [sdkError('RegionDisabledException', 403), 'permanent', 'RegionDisabledException'],
    [netError('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere'), 'permanent', 'ENOTFOUND'],
    ['a string', 'permanent', 'UnknownError'],
  ])('%s → %s', (error, kind, code) => {
    expect(classifyAwsError(error, 0)).toMatchObject({ kind, code });
  });

  it('honours Retry-After on a throttle', () => {
    const error = sdkError('ThrottlingException', 400, 'Rate exceeded', { $response: { statusCode: 400, headers: { 'retry-after': '3' } } });
    expect(classifyAwsError(error, 0)).toMatchObject({ kind: 'transient', retryAfterMs: 3000 });
  });

  it('never carries a token echoed in the message', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const c = classifyAwsError(sdkError('ValidationError', 400, `Value '${token}' at 'webIdentityToken' failed`));
    expect(c.message).not.toContain(token);
    expect(c.message).toContain('<token>');
    expect(sanitizeAwsMessage(`a\n b  secret-value c`, ['secret-value'])).toBe('a b *** c');
  });
});

describe('describeAwsFailure', () => {
  it.each([
    ['sts:AssumeRoleWithWebIdentity', { kind: 'permanent', code: 'AccessDenied', status: 403, message: 'Not authorized' }, 1, /^sts:AssumeRoleWithWebIdentity failed: AccessDenied \(HTTP 403\): Not authorized; the role's trust policy/],
    ['ecr:GetAuthorizationToken', { kind: 'transient', code: 'ThrottlingException', status: 400, message: 'Rate exceeded' }, 5, /failed after 5 attempts: .*rerun the job/],
    ['ecr:GetAuthorizationToken', { kind: 'transient', code: 'ECONNRESET', message: 'read ECONNRESET' }, 5, /HTTPS_PROXY\/NO_PROXY/],
    ['ecr:GetAuthorizationToken', { kind: 'permanent', code: 'InvalidSignatureException', status: 403, message: 'x' }, 1, /check the secret access key$/],
    ['ecr:GetAuthorizationToken', { kind: 'permanent', code: 'AccessDeniedException', status: 400, message: 'x' }, 1, /ecr:GetAuthorizationToken on \*/],
    ['ecr-public:GetAuthorizationToken', { kind: 'permanent', code: 'AccessDeniedException', status: 400, message: 'x' }, 1, /sts:GetServiceBearerToken/],
    ['sts:AssumeRoleWithWebIdentity', { kind: 'reauth', code: 'ExpiredTokenException', status: 400, message: 'Token expired' }, 1, /set audience so regauth mints a fresh token/],
  ] as const)('%s %j', (operation, c, attempts, expected) => {
    const line = describeAwsFailure(operation, c, attempts);
    expect(line).toMatch(expected);
    expect(line).not.toContain('\n');
  });
});
