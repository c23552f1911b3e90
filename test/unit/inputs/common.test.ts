import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { booleanParameter, envKey, expandEnvReferences, integerParameter, listParameter, secretFromEnvName, stringParameter, withoutExpandedValues } from '../../../src/inputs/common.ts';

describe('parameter parsing', () => {
  it.each([
    ['${AWS_DEFAULT_REGION}', 'eu-west-1'],
    ['$AWS_DEFAULT_REGION', 'eu-west-1'],
    ['pre-${AWS_DEFAULT_REGION}-post', 'pre-eu-west-1-post'],
    ['${UNSET_VARIABLE}', ''],
    ['plain', 'plain'],
  ])('expands %s without a shell', (raw, expected) => {
    expect(expandEnvReferences(raw, { AWS_DEFAULT_REGION: 'eu-west-1' })).toBe(expected);
  });

  it('never re-expands what a variable holds (no second round, no command substitution)', () => {
    expect(expandEnvReferences('${A}', { A: '$(touch /tmp/x)', B: 'b' })).toBe('$(touch /tmp/x)');
    expect(() => stringParameter({ REGAUTH_REGION: '${A}', A: '$(id)' }, 'region')).toThrow('parameter region: contains the shell metacharacter "$"');
  });

  it.each([
    ['a;b', '";"'],
    ['$(id)', '"$"'],
    ['`id`', '"`"'],
    ['a|b', '"|"'],
    ['a\nb', 'a whitespace or line break'],
    ['a b', 'a space'],
    ['a\u0000b', 'a control character (U+0000)'],
  ])('refuses %j naming the parameter and the character', (value, what) => {
    expect(() => stringParameter({ REGAUTH_REGISTRY: value }, 'registry')).toThrow(`parameter registry: contains ${what.startsWith('"') ? `the shell metacharacter ${what}` : what}`);
  });

  it('refuses huge values with their length', () => {
    expect(() => stringParameter({ REGAUTH_REGISTRY: 'a'.repeat(5000) }, 'registry')).toThrow('parameter registry: is 5000 characters long; the limit is 2048');
  });

  it('splits lists on commas, spaces and newlines', () => {
    expect(listParameter({ REGAUTH_IMAGES: ' a,b  c\n\nd,\n' }, 'images')).toEqual(['a', 'b', 'c', 'd']);
    expect(() => listParameter({ REGAUTH_IMAGES: 'a,$(id)' }, 'images')).toThrow('parameter images: item "$(id)" contains the shell metacharacter "$"');
  });

  it('reads integers in range and refuses the rest', () => {
    expect(integerParameter({}, 'concurrency', { min: 1, max: 32, fallback: 4 })).toBe(4);
    expect(integerParameter({ REGAUTH_CONCURRENCY: '8' }, 'concurrency', { min: 1, max: 32, fallback: 4 })).toBe(8);
    expect(() => integerParameter({ REGAUTH_CONCURRENCY: '0' }, 'concurrency', { min: 1, max: 32, fallback: 4 })).toThrow('parameter concurrency: must be from 1 to 32, got 0');
    expect(() => integerParameter({ REGAUTH_CONCURRENCY: '4;id' }, 'concurrency', { min: 1, max: 32, fallback: 4 })).toThrow('must be a whole number');
  });

  it('reads booleans strictly', () => {
    expect(booleanParameter({ REGAUTH_PUBLIC: 'true' }, 'public')).toBe(true);
    expect(booleanParameter({}, 'public')).toBe(false);
    expect(() => booleanParameter({ REGAUTH_PUBLIC: 'yes' }, 'public')).toThrow('parameter public: must be true or false');
  });

  it('reads a secret through the variable named by an env_var_name parameter', () => {
    expect(secretFromEnvName({ REGAUTH_PASSWORD: 'TOKEN', TOKEN: 's3cret' }, 'password', { required: true })).toEqual({ name: 'TOKEN', value: 's3cret' });
    expect(() => secretFromEnvName({ REGAUTH_PASSWORD: 'TOKEN' }, 'password', { required: true })).toThrow('parameter password: environment variable TOKEN is not set or empty');
    expect(() => secretFromEnvName({ REGAUTH_PASSWORD: 'A;B' }, 'password', { required: true })).toThrow('parameter password: must name an environment variable');
  });
});

describe('input errors never quote an expanded value', () => {
  const scrub = (parameter: string, raw: string, env: Record<string, string>, reason: string) =>
    withoutExpandedValues(new InputError(parameter, reason), { [envKey(parameter)]: raw, ...env }).message;

  it('names the variable instead of quoting its contents, in any case and shortened', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.Secret-Part.Sig';
    expect(scrub('images', '${CIRCLE_OIDC_TOKEN}', { CIRCLE_OIDC_TOKEN: token }, `"${token}" is not a valid image reference: the repository name "${token.toLowerCase()}" must be lowercase`)).toBe(
      'parameter images: ${CIRCLE_OIDC_TOKEN} is not a valid image reference: the repository name ${CIRCLE_OIDC_TOKEN} must be lowercase',
    );
    expect(scrub('registry', 'x${REG_PASS}', { REG_PASS: 'Hunter2-Password' }, `is not a valid host[:port]: "xhunter2-pass..."`)).toBe('parameter registry: is not a valid host[:port]: ${REG_PASS}');
    expect(scrub('registry', '${REG_PASS}', { REG_PASS: 'Hunter2-Password' }, 'bare hunter2-password here')).toBe('parameter registry: bare ${REG_PASS} here');
  });

  it('leaves literal values and constant quotes alone', () => {
    expect(scrub('platform', 'linux/amd64x', {}, 'got "linux/amd64x"')).toBe('parameter platform: got "linux/amd64x"');
    expect(scrub('images', '${IMG}', { IMG: 'Bad' }, 'may only contain "_", "." and "-"')).toBe('parameter images: may only contain "_", "." and "-"');
  });
});
