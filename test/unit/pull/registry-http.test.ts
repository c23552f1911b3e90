import { describe, expect, it } from 'vitest';
import { Redactor } from '../../../src/core/output.ts';
import type { Fetch, HttpRequestInit, HttpResponse } from '../../../src/pull/http.ts';
import {
  bearerChallenge,
  configKeysFor,
  DOCKER_HUB_CONFIG_KEYS,
  isLoopbackHost,
  mayCarryCredentials,
  parseChallenges,
  requestToken,
  savedLogin,
  withDeadline,
} from '../../../src/pull/registry-http.ts';

const response = (status: number, body = ''): HttpResponse => ({ status, headers: { get: () => null }, text: () => Promise.resolve(body) });
const auth = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString('base64');

describe('parseChallenges', () => {
  it.each([
    [null, []],
    ['', []],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } }],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    // Unquoted values, odd spacing and case, a quoted comma and an escaped quote.
    ['bearer  Realm = https://r.example/t , service=r.example', [{ scheme: 'bearer', params: { realm: 'https://r.example/t', service: 'r.example' } }]],
    ['Bearer realm="https://r.example/t",scope="repository:a/b:pull,push",error="insufficient_scope"', [
      { scheme: 'bearer', params: { realm: 'https://r.example/t', scope: 'repository:a/b:pull,push', error: 'insufficient_scope' } },
    ]],
    ['Basic realm="say \\"hi\\""', [{ scheme: 'basic', params: { realm: 'say "hi"' } }]],
    // Two challenges in one header.
    ['Basic realm="x", Bearer realm="https://r.example/t",service="s"', [
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'https://r.example/t', service: 's' } },
    ]],
    // A parameter before any scheme is nonsense: nothing is read.
    ['realm="x"', []],
  ])('%j', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });
});

describe('bearerChallenge', () => {
  it.each([
    ['Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"', { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:a/b:pull' }],
    ['Bearer realm="http://127.0.0.1:5001/auth"', { realm: 'http://127.0.0.1:5001/auth', service: undefined, scope: undefined }],
    ['Basic realm="x", Bearer realm="https://r.example/t"', { realm: 'https://r.example/t', service: undefined, scope: undefined }],
    ['Basic realm="https://r.example/t"', undefined],
    ['Bearer service="x"', undefined],
    ['Bearer realm="not a url"', undefined],
    ['Bearer realm="file:///etc/passwd"', undefined],
    ['Bearer realm="https://u:p@r.example/t"', undefined],
  ])('%s', (header, expected) => {
    const found = bearerChallenge(parseChallenges(header));
    expect(found === undefined ? undefined : { ...found, realm: found.realm.toString() }).toEqual(expected);
  });
});

describe('saved logins', () => {
  it.each([
    ['docker.io', DOCKER_HUB_CONFIG_KEYS],
    ['ghcr.io', ['ghcr.io', 'https://ghcr.io', 'http://ghcr.io']],
    ['127.0.0.1:5000', ['127.0.0.1:5000', 'https://127.0.0.1:5000', 'http://127.0.0.1:5000']],
  ])('%s is stored under %j', (domain, keys) => {
    expect(configKeysFor(domain)).toEqual(keys);
  });

  it('reads the auths entry of the registry asked about, and no other', () => {
    const config = { auths: { 'ghcr.io': { auth: auth('me', 'gh:pat') }, 'quay.io': { auth: auth('q', 'x') } } };
    expect(savedLogin(config, configKeysFor('ghcr.io')).credentials).toEqual({ username: 'me', password: 'gh:pat' });
    expect(savedLogin(config, configKeysFor('r.example.com')).credentials).toBeUndefined();
  });

  it('says so when a helper keeps the credentials', () => {
    expect(savedLogin({ credHelpers: { 'ghcr.io': 'gh' } }, configKeysFor('ghcr.io'))).toEqual({ credentials: undefined, note: 'credentials in a credential helper are not read' });
  });
});

describe('hosts', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['[::1]', true],
    ['::1', true],
    ['128.0.0.1', false],
    ['localhost.example.com', false],
    ['ghcr.io', false],
  ])('%s loopback: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it.each([
    ['https://r.example/t', true],
    ['http://127.0.0.1:5001/t', true],
    ['http://r.example/t', false],
  ])('credentials may go to %s: %s', (url, may) => {
    expect(mayCarryCredentials(new URL(url))).toBe(may);
  });
});

describe('requestToken', () => {
  const calls: { url: string; init: HttpRequestInit }[] = [];
  const answering =
    (answer: HttpResponse): Fetch =>
    (url, init) => {
      calls.push({ url, init });
      return Promise.resolve(answer);
    };
  const signal = new AbortController().signal;

  it('asks the realm for the service and scope and registers the token as a secret', async () => {
    calls.length = 0;
    const redactor = new Redactor();
    const result = await requestToken(
      answering(response(200, JSON.stringify({ access_token: 'tok-abcdef-123' }))),
      new URL('https://auth.example/token?client=x'),
      { service: 'reg', scope: 'repository:a/b:pull', authorization: 'Basic Zm9vOmJhcg==' },
      redactor,
      signal,
    );
    expect(result).toEqual({ ok: true, token: 'tok-abcdef-123' });
    expect(calls[0]?.url).toBe('https://auth.example/token?client=x&service=reg&scope=repository%3Aa%2Fb%3Apull');
    expect(calls[0]?.init).toMatchObject({ method: 'GET', headers: { accept: 'application/json', authorization: 'Basic Zm9vOmJhcg==' } });
    expect(calls[0]?.init.insecureTls).toBeUndefined();
    expect(redactor.redact('tok-abcdef-123')).toBe('***');
  });

  it('does not verify a loopback realm’s certificate, as docker does not', async () => {
    calls.length = 0;
    await requestToken(answering(response(200, '{"token":"t-123456"}')), new URL('https://127.0.0.1:5001/auth'), { service: undefined, scope: undefined, authorization: undefined }, new Redactor(), signal);
    expect(calls[0]?.url).toBe('https://127.0.0.1:5001/auth');
    expect(calls[0]?.init.insecureTls).toBe(true);
    expect(calls[0]?.init.headers.authorization).toBeUndefined();
  });

  it.each([
    [response(401), { ok: false, status: 401, noToken: false }],
    [response(200, 'not json'), { ok: false, status: 200, noToken: true }],
    [response(200, '{"token":""}'), { ok: false, status: 200, noToken: true }],
  ])('reports a refusal %#', async (answer, expected) => {
    expect(await requestToken(answering(answer), new URL('https://a.example/t'), { service: undefined, scope: undefined, authorization: undefined }, new Redactor(), signal)).toEqual(expected);
  });
});

describe('withDeadline', () => {
  it('returns the value', async () => {
    expect(await withDeadline(1000, () => Promise.resolve(7))).toEqual({ ok: true, value: 7 });
  });

  it('returns the error', async () => {
    const error = new Error('x');
    expect(await withDeadline(1000, () => Promise.reject(error))).toEqual({ ok: false, timedOut: false, error });
  });

  it('stops waiting for work that ignores the signal', async () => {
    let signalled = false;
    const result = await withDeadline(5, (signal) => {
      signal.addEventListener('abort', () => (signalled = true));
      return new Promise<never>(() => undefined);
    });
    expect(result).toEqual({ ok: false, timedOut: true });
    expect(signalled).toBe(true);
  });
});
