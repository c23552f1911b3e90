import { describe, expect, it } from 'vitest';
import { parseRegistryHost } from '../../../src/registry/host.ts';

describe('registry hosts', () => {
  it.each(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/', 'DOCKER.IO'])('treats %s as Docker Hub, logged in under its index key', (value) => {
    expect(parseRegistryHost(value)).toEqual({ host: 'docker.io', serverArgument: undefined, configKey: 'https://index.docker.io/v1/', kind: 'dockerhub' });
  });

  it.each([
    ['quay.io', 'quay'],
    ['ghcr.io', 'ghcr'],
    ['gcr.io', 'gcr'],
    ['eu.gcr.io', 'gcr'],
    ['europe-west1-docker.pkg.dev', 'artifact-registry'],
    ['myreg.azurecr.io', 'acr'],
    ['public.ecr.aws', 'ecr-public'],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'ecr'],
    ['123456789012.dkr-ecr.us-east-1.on.aws', 'ecr'],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', 'ecr'],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', 'ecr'],
    ['123456789012.dkr.ecr.notaregion.amazonaws.com', 'other'],
    ['127.0.0.1:5000', 'other'],
    ['localhost:5000', 'other'],
    ['https://registry.example.com/', 'other'],
  ])('recognises %s as %s', (value, kind) => {
    const parsed = parseRegistryHost(value);
    expect('error' in parsed ? parsed.error : parsed.kind).toBe(kind);
  });

  it.each(['', 'host/path', 'bad_host', 'a..b', 'host:99999', '-lead.example.com', 'ｑuay.io', 'host:port'])('refuses %j', (value) => {
    expect(parseRegistryHost(value)).toHaveProperty('error');
  });
});
