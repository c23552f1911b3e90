import { describe, expect, it } from 'vitest';
import { parseLoginInputs } from '../../../src/inputs/login.ts';

const key = JSON.stringify({ type: 'service_account', client_email: 'ci-puller@project.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n' });

function env(extra: Record<string, string>): Record<string, string> {
  return { REGAUTH_USERNAME: 'REG_USER', REGAUTH_PASSWORD: 'REG_PASS', ...extra };
}

describe('regauth/login inputs and host presets', () => {
  it('defaults to Docker Hub and says when the password is a personal access token', () => {
    const inputs = parseLoginInputs(env({ REG_USER: 'me', REG_PASS: 'dckr_pat_abcdef' }));
    expect(inputs.target.kind).toBe('dockerhub');
    expect(inputs.target.serverArgument).toBeUndefined();
    expect(inputs.notes).toEqual(['Docker Hub personal access token']);
  });

  it('expands the registry from the environment', () => {
    expect(parseLoginInputs(env({ REGAUTH_REGISTRY: '${HOST}', HOST: 'quay.io', REG_USER: 'org+robot', REG_PASS: 'secret' })).target.host).toBe('quay.io');
  });

  it('picks _json_key for a gcr key, and names the service account (not the key)', () => {
    const inputs = parseLoginInputs(env({ REGAUTH_REGISTRY: 'europe-docker.pkg.dev', REG_PASS: key }));
    expect(inputs.username).toBe('_json_key');
    expect(inputs.notes).toEqual(['REG_USER is not set: the password is a service-account key, so the user name is _json_key', 'service-account key for ci-puller@project.iam.gserviceaccount.com']);
    expect(inputs.notes.join(' ')).not.toContain('PRIVATE KEY');
  });

  it('picks oauth2accesstoken for a gcr access token', () => {
    expect(parseLoginInputs(env({ REGAUTH_REGISTRY: 'gcr.io', REG_PASS: 'ya29.token' })).username).toBe('oauth2accesstoken');
  });

  it('accepts a base64 key with _json_key_base64 and refuses a non-key', () => {
    expect(parseLoginInputs(env({ REGAUTH_REGISTRY: 'gcr.io', REG_USER: '_json_key_base64', REG_PASS: Buffer.from(key).toString('base64') })).notes).toEqual(['service-account key for ci-puller@project.iam.gserviceaccount.com']);
    expect(() => parseLoginInputs(env({ REGAUTH_REGISTRY: 'gcr.io', REG_USER: '_json_key', REG_PASS: 'not-json' }))).toThrow('parameter password: user name _json_key needs a service-account key in JSON, and the password is not one');
  });

  it("uses ACR's fixed user name for a refresh token", () => {
    const inputs = parseLoginInputs(env({ REGAUTH_REGISTRY: 'myreg.azurecr.io', REG_PASS: 'refresh-token' }));
    expect(inputs.username).toBe('00000000-0000-0000-0000-000000000000');
  });

  it('needs a user name for other registries, naming the variable', () => {
    expect(() => parseLoginInputs(env({ REGAUTH_REGISTRY: 'quay.io', REG_PASS: 'secret' }))).toThrow('parameter username: environment variable REG_USER is not set or empty');
  });

  it('refuses a user name docker would misread', () => {
    expect(() => parseLoginInputs(env({ REG_USER: 'a:b', REG_PASS: 'secret' }))).toThrow('parameter username: the value of REG_USER is not a valid user name');
  });
});
