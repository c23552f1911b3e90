import { describe, expect, it } from 'vitest';
import { Redactor } from '../../../src/core/output.ts';
import type { Fetch, HttpRequestInit, HttpResponse } from '../../../src/pull/http.ts';
import { manifestPath, registryBases, registryWaitProbe, statedWait, type WaitProbeOptions } from '../../../src/pull/wait-probe.ts';
import { parseReference } from '../../../src/registry/reference.ts';

const NOW = Date.parse('2025-01-01T00:00:00Z');
const auth = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString('base64');

function response(status: number, headers: Record<string, string> = {}, body = ''): HttpResponse {
  return { status, headers: { get: (name) => headers[name.toLowerCase()] ?? null }, text: () => Promise.resolve(body) };
}

type Answer = HttpResponse | Error;

/** A fake registry: answers in order; records what was asked (method, URL, authorization). */
function fakeRegistry(...answers: Answer[]) {
  const calls: { url: string; init: HttpRequestInit }[] = [];
  const fetch: Fetch = (url, init) => {
    calls.push({ url, init });
    const next = answers.shift() ?? new Error('no more answers');
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
  const asked = () => calls.map((c) => `${c.init.method} ${c.url} ${c.init.headers.authorization ?? '-'}`);
  return { fetch, calls, asked };
}

const noConfig = () => Promise.reject(Object.assign(new Error('missing'), { code: 'ENOENT' }));
const configWith = (config: unknown) => () => Promise.resolve(JSON.stringify(config));

function probeWith(fetch: Fetch, options: Partial<WaitProbeOptions> = {}) {
  const redactor = options.redactor ?? new Redactor();
  return { redactor, probe: registryWaitProbe({ env: {}, fetch, redactor, now: () => NOW, readConfig: noConfig, ...options }) };
}

const BEARER = 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/api:pull"';
const connectionReset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('statedWait', () => {
  it.each([
    [429, '3', 3000],
    [503, '120', 120_000],
    [429, 'Wed, 01 Jan 2025 00:00:30 GMT', 30_000],
    [429, 'Tue, 31 Dec 2024 23:00:00 GMT', 0],
    [429, null, undefined],
    [429, 'soon', undefined],
    // Date.parse reads "-1" as a year long past: no wait beyond the backoff.
    [429, '-1', 0],
    [200, '3', undefined],
    [500, '3', undefined],
    [401, '3', undefined],
  ])('%i with Retry-After %j → %j ms', (status, retryAfter, expected) => {
    expect(statedWait(status, retryAfter, NOW)).toBe(expected);
  });
});

describe('where to ask', () => {
  const hub = new URL('https://registry-1.docker.io');
  it.each([
    ['ghcr.io/acme/api:1', ['https://ghcr.io'], '/v2/acme/api/manifests/1'],
    ['r.example.com:8443/a/b', ['https://r.example.com:8443'], '/v2/a/b/manifests/latest'],
    ['127.0.0.1:5000/a/b:v1', ['https://127.0.0.1:5000', 'http://127.0.0.1:5000'], '/v2/a/b/manifests/v1'],
    ['localhost:5000/a:v1', ['https://localhost:5000', 'http://localhost:5000'], '/v2/a/manifests/v1'],
    ['[::1]:5000/a:v1', ['https://[::1]:5000', 'http://[::1]:5000'], '/v2/a/manifests/v1'],
    ['redis:7', ['https://registry-1.docker.io'], '/v2/library/redis/manifests/7'],
    [`ghcr.io/a/b:1@sha256:${'a'.repeat(64)}`, ['https://ghcr.io'], `/v2/a/b/manifests/sha256:${'a'.repeat(64)}`],
  ])('%s', (input, bases, path) => {
    const ref = parseReference(input);
    expect(registryBases(ref, hub)).toEqual(bases);
    expect(manifestPath(ref)).toBe(path);
  });

  it('asks nothing of Docker Hub when its override is unusable', () => {
    expect(registryBases(parseReference('redis'), 'REGAUTH_DOCKERHUB_REGISTRY_URL is not a URL')).toEqual([]);
  });
});

describe('registryWaitProbe', () => {
  const api = parseReference('ghcr.io/acme/api:1.4.2');

  it('takes the wait from an answer that comes before any challenge', async () => {
    const registry = fakeRegistry(response(429, { 'retry-after': '3' }));
    expect(await probeWith(registry.fetch).probe(api)).toBe(3000);
    expect(registry.asked()).toEqual(['HEAD https://ghcr.io/v2/acme/api/manifests/1.4.2 -']);
    expect(registry.calls[0]?.init.headers.accept).toMatch(/application\/vnd\.oci\.image\.index\.v1\+json/);
  });

  it('answers a Bearer challenge with an anonymous token, as docker would without a login', async () => {
    const registry = fakeRegistry(
      response(401, { 'www-authenticate': BEARER }),
      response(200, {}, JSON.stringify({ token: 'anon-token-123' })),
      response(429, { 'retry-after': 'Wed, 01 Jan 2025 00:00:10 GMT' }),
    );
    expect(await probeWith(registry.fetch).probe(api)).toBe(10_000);
    expect(registry.asked()).toEqual([
      'HEAD https://ghcr.io/v2/acme/api/manifests/1.4.2 -',
      'GET https://ghcr.io/token?service=ghcr.io&scope=repository%3Aacme%2Fapi%3Apull -',
      'HEAD https://ghcr.io/v2/acme/api/manifests/1.4.2 Bearer anon-token-123',
    ]);
  });

  it('uses the saved login for the token and registers every secret', async () => {
    const registry = fakeRegistry(
      response(401, { 'www-authenticate': BEARER }),
      response(200, {}, JSON.stringify({ token: 'user-token-456' })),
      response(503, { 'retry-after': '5' }),
    );
    const { probe, redactor } = probeWith(registry.fetch, {
      env: { DOCKER_CONFIG: '/cfg' },
      readConfig: (path) => (path === '/cfg/config.json' ? configWith({ auths: { 'ghcr.io': { auth: auth('me', 'ghp-secret-789') } } })() : noConfig()),
    });
    expect(await probe(api)).toBe(5000);
    expect(registry.calls[1]?.init.headers.authorization).toBe(`Basic ${auth('me', 'ghp-secret-789')}`);
    expect(redactor.redact(`ghp-secret-789 ${auth('me', 'ghp-secret-789')} user-token-456`)).toBe('*** *** ***');
  });

  it('never sends the saved password to a realm without TLS on another host', async () => {
    const registry = fakeRegistry(
      response(401, { 'www-authenticate': 'Bearer realm="http://auth.example/token",service="s"' }),
      response(200, {}, JSON.stringify({ token: 'anon-token-123' })),
      response(429, { 'retry-after': '2' }),
    );
    const { probe } = probeWith(registry.fetch, { readConfig: configWith({ auths: { 'ghcr.io': { auth: auth('me', 'pw-123456') } } }) });
    expect(await probe(api)).toBe(2000);
    expect(registry.calls[1]?.init.headers.authorization).toBeUndefined();
    // Without a scope in the challenge, the pull scope of the repository is asked for.
    expect(registry.calls[1]?.url).toBe('http://auth.example/token?service=s&scope=repository%3Aacme%2Fapi%3Apull');
  });

  it('answers a Basic challenge with the saved login on a loopback registry, over http when https fails', async () => {
    const local = parseReference('127.0.0.1:5000/app/a:v1');
    const registry = fakeRegistry(
      connectionReset(),
      response(401, { 'www-authenticate': 'Basic realm="Registry Realm"' }),
      response(429, { 'retry-after': '3' }),
      // Second probe: straight to http, which answered last time.
      response(429, { 'retry-after': '4' }),
    );
    const { probe } = probeWith(registry.fetch, { readConfig: configWith({ auths: { '127.0.0.1:5000': { auth: auth('alice', 'alice-pw-1') } } }) });
    expect(await probe(local)).toBe(3000);
    expect(await probe(local)).toBe(4000);
    expect(registry.asked()).toEqual([
      'HEAD https://127.0.0.1:5000/v2/app/a/manifests/v1 -',
      'HEAD http://127.0.0.1:5000/v2/app/a/manifests/v1 -',
      `HEAD http://127.0.0.1:5000/v2/app/a/manifests/v1 Basic ${auth('alice', 'alice-pw-1')}`,
      'HEAD http://127.0.0.1:5000/v2/app/a/manifests/v1 -',
    ]);
    // docker does not verify a loopback registry's certificate; neither does the probe.
    expect(registry.calls[0]?.init.insecureTls).toBe(true);
  });

  it('asks Docker Hub’s API host, with the Docker Hub login', async () => {
    const registry = fakeRegistry(
      response(401, { 'www-authenticate': 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"' }),
      response(200, {}, JSON.stringify({ token: 'hub-token-123' })),
      response(429, { 'retry-after': '60' }),
    );
    const { probe } = probeWith(registry.fetch, { readConfig: configWith({ auths: { 'https://index.docker.io/v1/': { auth: auth('me', 'hub-pat-123') } } }) });
    expect(await probe(parseReference('redis:7'))).toBe(60_000);
    expect(registry.asked()).toEqual([
      'HEAD https://registry-1.docker.io/v2/library/redis/manifests/7 -',
      `GET https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fredis%3Apull Basic ${auth('me', 'hub-pat-123')}`,
      'HEAD https://registry-1.docker.io/v2/library/redis/manifests/7 Bearer hub-token-123',
    ]);
  });

  it('honours REGAUTH_DOCKERHUB_REGISTRY_URL', async () => {
    const registry = fakeRegistry(response(429, { 'retry-after': '1' }));
    const { probe } = probeWith(registry.fetch, { env: { REGAUTH_DOCKERHUB_REGISTRY_URL: 'http://127.0.0.1:7000/' } });
    expect(await probe(parseReference('redis'))).toBe(1000);
    expect(registry.asked()).toEqual(['HEAD http://127.0.0.1:7000/v2/library/redis/manifests/latest -']);
  });

  it.each([
    ['the registry no longer refuses', [response(200)], 1],
    ['the refusal states no wait', [response(429)], 1],
    ['a 5xx other than 503 states one', [response(502, { 'retry-after': '3' })], 1],
    ['a Basic challenge without a saved login', [response(401, { 'www-authenticate': 'Basic realm="r"' })], 1],
    ['a challenge regauth cannot answer', [response(401, { 'www-authenticate': 'Negotiate' })], 1],
    ['a 401 without a challenge', [response(401)], 1],
    ['the token service refuses', [response(401, { 'www-authenticate': BEARER }), response(403)], 2],
    ['the token service sends no token', [response(401, { 'www-authenticate': BEARER }), response(200, {}, '{}')], 2],
    ['the authenticated HEAD succeeds', [response(401, { 'www-authenticate': BEARER }), response(200, {}, '{"token":"t-123456"}'), response(200)], 3],
    ['the token request fails', [response(401, { 'www-authenticate': BEARER }), connectionReset()], 2],
    // Not loopback: no plain-http retry.
    ['https fails', [connectionReset()], 1],
  ] as [string, Answer[], number][])('finds no stated wait when %s', async (_name, answers, requests) => {
    const registry = fakeRegistry(...answers);
    expect(await probeWith(registry.fetch).probe(api)).toBeUndefined();
    expect(registry.calls).toHaveLength(requests);
  });

  it('gives up after its timeout, even with a transport that ignores the signal', async () => {
    const fetch: Fetch = () => new Promise(() => undefined);
    expect(await probeWith(fetch, { timeoutMs: 5 }).probe(api)).toBeUndefined();
  });
});
