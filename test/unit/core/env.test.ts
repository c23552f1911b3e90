import { describe, expect, it } from 'vitest';
import { expandedValuesToHide } from '../../../src/core/env.ts';

describe('values that came from the environment', () => {
  const env = {
    REGAUTH_REGISTRY: '${REG_HOST}',
    REG_HOST: 'Secret-Registry.Example.com',
    REGAUTH_ROLE_ARN: '${AWS_ROLE_ARN}',
    AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/ci-pull',
    REGAUTH_ROLE_SESSION_NAME: 'ci-${SESSION_PART}',
    SESSION_PART: 'tok3n-like-value',
  };

  it('are listed with their source, except the documented defaults users read back', () => {
    const hidden = expandedValuesToHide(env);
    expect(hidden).toContainEqual({ value: 'Secret-Registry.Example.com', shownAs: '${REG_HOST}' });
    expect(hidden).toContainEqual({ value: 'tok3n-like-value', shownAs: '${SESSION_PART}' });
    expect(hidden.some((entry) => entry.value.includes('role/ci-pull'))).toBe(false);
  });
});
