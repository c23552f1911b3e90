import { describe, expect, it } from 'vitest';
import { deriveRoleSessionName, sanitizeRoleSessionName } from '../../../../src/clouds/aws/session-name.ts';

const VALID = /^[\w+=,.@-]{2,64}$/;

describe('role session name', () => {
  it.each([
    [{ CIRCLE_PROJECT_REPONAME: 'api', CIRCLE_BUILD_NUM: '1234' }, 'regauth-api-1234'],
    [{ CIRCLE_PROJECT_REPONAME: 'my repo/with:odd*chars', CIRCLE_BUILD_NUM: '7' }, 'regauth-my-repo-with-odd-chars-7'],
    [{ CIRCLE_BUILD_NUM: '7' }, 'regauth-7'],
    [{}, 'regauth'],
    [{ CIRCLE_PROJECT_REPONAME: 'x'.repeat(100), CIRCLE_BUILD_NUM: '98765' }, `regauth-${'x'.repeat(50)}-98765`],
    [{ CIRCLE_PROJECT_REPONAME: 'ünïcode', CIRCLE_BUILD_NUM: '1' }, 'regauth--n-code-1'],
  ])('derives from %j', (env, expected) => {
    const name = deriveRoleSessionName(env);
    expect(name).toBe(expected);
    expect(name).toMatch(VALID);
  });

  it.each([
    ['ok-name', 'ok-name'],
    ['a', 'regauth-a'],
    ['', 'regauth-'],
    ['has space', 'has-space'],
    ['x'.repeat(80), 'x'.repeat(64)],
    ['user@example.com+ci=1,2', 'user@example.com+ci=1,2'],
  ])('sanitises %j', (raw, expected) => {
    expect(sanitizeRoleSessionName(raw)).toBe(expected);
    expect(sanitizeRoleSessionName(raw)).toMatch(VALID);
  });
});
