import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { readPullInputs, parseNoOutputTimeout } from '../../../src/inputs/pull.ts';

function inputs(env: Record<string, string>) {
  return readPullInputs(env);
}

function inputError(env: Record<string, string>): InputError {
  try {
    readPullInputs(env);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('regauth/pull parameters', () => {
  it('applies the documented defaults', () => {
    expect(inputs({ REGAUTH_IMAGES: 'postgres' })).toEqual({
      images: [expect.objectContaining({ normalized: 'docker.io/library/postgres:latest' })],
      concurrency: 4,
      composeFiles: [],
      noOutputTimeoutMs: 600_000,
      maxAttempts: 5,
      platform: undefined,
      mirror: undefined,
    });
  });

  it('splits images on commas, spaces and newlines and keeps their order', () => {
    const { images } = inputs({ REGAUTH_IMAGES: ' ghcr.io/a/b:1,\n  cimg/postgres:16.4 redis\n\n' });
    expect(images.map((ref) => ref.normalized)).toEqual(['ghcr.io/a/b:1', 'docker.io/cimg/postgres:16.4', 'docker.io/library/redis:latest']);
  });

  it('removes duplicates after normalisation, keeping the first', () => {
    const { images } = inputs({ REGAUTH_IMAGES: 'redis, docker.io/library/redis:latest, postgres:16, redis:latest, index.docker.io/library/postgres:16' });
    expect(images.map((ref) => ref.normalized)).toEqual(['docker.io/library/redis:latest', 'docker.io/library/postgres:16']);
  });

  it('expands environment references in the image list', () => {
    const { images } = inputs({ REGAUTH_IMAGES: '${ECR}/app:${TAG}', ECR: '123456789012.dkr.ecr.us-east-1.amazonaws.com', TAG: '1.4.2' });
    expect(images[0]?.normalized).toBe('123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.4.2');
  });

  it.each([
    [{}, 'parameter images: is empty'],
    [{ REGAUTH_IMAGES: ' , \n' }, 'parameter images: is empty'],
    [{ REGAUTH_IMAGES: 'redis Postgres' }, 'parameter images: "Postgres" is not a valid image reference: the repository name "Postgres" must be lowercase'],
    [{ REGAUTH_IMAGES: 'redis;id' }, 'parameter images: item "redis;id" contains the shell metacharacter ";"'],
    [{ REGAUTH_IMAGES: 'redis$(id)' }, 'parameter images: item "redis$(id)" contains the shell metacharacter "$"'],
    [{ REGAUTH_IMAGES: 'app@sha256:abc' }, 'parameter images: "app@sha256:abc" is not a valid image reference: the digest "sha256:abc"'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_CONCURRENCY: '0' }, 'parameter concurrency: must be from 1 to 32, got 0'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_CONCURRENCY: '33' }, 'parameter concurrency: must be from 1 to 32, got 33'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_CONCURRENCY: 'four' }, 'parameter concurrency: must be a whole number'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_MAX_ATTEMPTS: '0' }, 'parameter max_attempts: must be from 1 to 10, got 0'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_MAX_ATTEMPTS: '11' }, 'parameter max_attempts: must be from 1 to 10, got 11'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_PLATFORM: 'amd64' }, 'parameter platform: must be os/arch or os/arch/variant (for example linux/amd64 or linux/arm64/v8), got "amd64"'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_PLATFORM: 'linux/arm64/v8/x' }, 'parameter platform: must be os/arch'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_PLATFORM: 'linux//amd64' }, 'parameter platform: must be os/arch'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_PLATFORM: 'linux/amd64;id' }, 'parameter platform: contains the shell metacharacter ";"'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_MIRROR: 'https://mirror.example.com' }, 'parameter mirror: "https://mirror.example.com" is not a valid mirror prefix: write it without a scheme'],
    [{ REGAUTH_IMAGES: 'redis', REGAUTH_MIRROR: 'docker-hub' }, 'parameter mirror: "docker-hub" is not a valid mirror prefix: it must start with a registry host'],
  ])('%j is refused with %j', (env, message) => {
    const error = inputError(env);
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.exitCode).toBe(2);
  });

  it('accepts the full range and normalises the platform to lowercase', () => {
    expect(
      inputs({
        REGAUTH_IMAGES: 'redis',
        REGAUTH_CONCURRENCY: '32',
        REGAUTH_MAX_ATTEMPTS: '1',
        REGAUTH_PLATFORM: 'Linux/ARM64/v8',
        REGAUTH_MIRROR: '${MIRROR}/',
        MIRROR: '123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub',
      }),
    ).toMatchObject({ concurrency: 32, maxAttempts: 1, platform: 'linux/arm64/v8', mirror: '123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub' });
  });
});

describe('pull parameters added for long jobs', () => {
  it.each([
    ['90s', 90_000],
    ['20m', 1_200_000],
    ['1h', 3_600_000],
    ['1.25h', 4_500_000],
  ])('no_output_timeout %s is %i ms', (value, ms) => {
    expect(parseNoOutputTimeout(value)).toBe(ms);
    expect(readPullInputs({ REGAUTH_IMAGES: 'redis', REGAUTH_NO_OUTPUT_TIMEOUT: value }).noOutputTimeoutMs).toBe(ms);
  });

  it.each(['10', '10 m', '1h30m', '0s', '5d', '-5m'])('refuses no_output_timeout %s before anything runs', (value) => {
    expect(() => readPullInputs({ REGAUTH_IMAGES: 'redis', REGAUTH_NO_OUTPUT_TIMEOUT: value })).toThrow(/^parameter no_output_timeout: (must be a number with a unit|contains)/);
  });

  it('takes comma-separated compose files, and lets images be empty with them', () => {
    expect(readPullInputs({ REGAUTH_IMAGES: '', REGAUTH_COMPOSE_FILES: 'a.yml, ci/b.yml ,a.yml' })).toMatchObject({ images: [], composeFiles: ['a.yml', 'ci/b.yml'] });
    expect(() => readPullInputs({ REGAUTH_IMAGES: '', REGAUTH_COMPOSE_FILES: 'a.yml;rm' })).toThrow(/^parameter compose_files: contains/);
    expect(() => readPullInputs({ REGAUTH_IMAGES: '' })).toThrow(/^parameter images: is empty/);
  });
});
