import { describe, expect, it } from 'vitest';
import { Redactor } from '../../../src/core/output.ts';
import type { Fetch, HttpRequestInit, HttpResponse } from '../../../src/pull/http.ts';
import { budgetLine, formatWindow, hubCredentialsFromConfig, parseQuota, parseRateLimit, readDockerHubBudget, budgetWarning } from '../../../src/pull/ratelimit.ts';

function headers(values: Record<string, string>): HttpResponse['headers'] {
  return { get: (name) => values[name.toLowerCase()] ?? null };
}

function response(status: number, values: Record<string, string> = {}, body = ''): HttpResponse {
  return { status, headers: headers(values), text: () => Promise.resolve(body) };
}

const HUB_HEADERS = { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600', 'docker-ratelimit-source': '203.0.113.7' };
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.fake-token-for-tests.sig';

/** A fake Docker Hub: records every request, answers from the given functions. */
function fakeHub(answers: { token?: () => HttpResponse; manifest?: () => HttpResponse } = {}) {
  const calls: { url: string; init: HttpRequestInit }[] = [];
  const fetch: Fetch = (url, init) => {
    calls.push({ url, init });
    if (init.method === 'GET') return Promise.resolve(answers.token?.() ?? response(200, {}, JSON.stringify({ token: TOKEN, expires_in: 300 })));
    return Promise.resolve(answers.manifest?.() ?? response(200, HUB_HEADERS));
  };
  return { fetch, calls };
}

const noConfig = () => Promise.reject(Object.assign(new Error('missing'), { code: 'ENOENT' }));
const configWith = (config: unknown) => () => Promise.resolve(JSON.stringify(config));
const auth = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString('base64');

describe('parseQuota and parseRateLimit', () => {
  it.each([
    ['100;w=21600', { count: 100, windowSeconds: 21600 }],
    ['76;w=21600', { count: 76, windowSeconds: 21600 }],
    [' 0 ; w = 3600 ', { count: 0, windowSeconds: 3600 }],
    ['200', { count: 200, windowSeconds: undefined }],
    ['100;w=21600;comment="x"', { count: 100, windowSeconds: 21600 }],
    ['', undefined],
    ['lots', undefined],
    [null, undefined],
  ])('%j', (value, expected) => {
    expect(parseQuota(value)).toEqual(expected);
  });

  it('reads the three Docker Hub headers', () => {
    expect(parseRateLimit(headers(HUB_HEADERS))).toEqual({
      limit: { count: 100, windowSeconds: 21600 },
      remaining: { count: 76, windowSeconds: 21600 },
      source: '203.0.113.7',
    });
  });
});

describe('budgetLine', () => {
  it('states what is left, of how much, per which window, and for whom', () => {
    expect(budgetLine(parseRateLimit(headers(HUB_HEADERS)), 'anonymous')).toBe("Docker Hub pull budget: 76 of 100 pulls left per 6 hours (anonymous: counted against this job's IP address, source 203.0.113.7)");
  });

  it('says unlimited when Docker Hub sends no headers', () => {
    expect(budgetLine(parseRateLimit(headers({})), 'authenticated')).toBe('Docker Hub pull budget: unlimited (logged in: counted against the Docker Hub account; Docker Hub sent no rate-limit headers)');
  });

  it('warns when nothing is left', () => {
    const line = budgetLine(parseRateLimit(headers({ 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' })), 'anonymous');
    expect(line).toMatch(/^Docker Hub pull budget: 0 of 100 pulls left per 6 hours \(anonymous: counted against this job's IP address\); pulls from Docker Hub will be refused \(429\).*regauth\/login or set mirror$/);
  });

  it.each([
    [21600, '6 hours'],
    [3600, '1 hour'],
    [5400, '1.5 hours'],
    [300, '5 min'],
    [90, '90 s'],
  ])('window %i s reads %s', (seconds, text) => {
    expect(formatWindow(seconds)).toBe(text);
  });
});

describe('hubCredentialsFromConfig', () => {
  it('reads the auths entry docker login writes', () => {
    expect(hubCredentialsFromConfig({ auths: { 'https://index.docker.io/v1/': { auth: auth('me', 'p:a:ss') } } })).toEqual({
      credentials: { username: 'me', password: 'p:a:ss' },
      note: undefined,
    });
  });

  it('ignores other registries', () => {
    expect(hubCredentialsFromConfig({ auths: { 'ghcr.io': { auth: auth('me', 'x') } } }).credentials).toBeUndefined();
  });

  it('says so when the credentials sit in a helper', () => {
    expect(hubCredentialsFromConfig({ auths: { 'https://index.docker.io/v1/': {} }, credsStore: 'pass' })).toEqual({
      credentials: undefined,
      note: 'credentials in a credential helper are not read',
    });
  });

  it.each([null, 'x', [], { auths: [] }, { auths: { 'docker.io': { auth: 'bm9jb2xvbg==' } } }])('survives %j', (config) => {
    expect(hubCredentialsFromConfig(config).credentials).toBeUndefined();
  });
});

describe('readDockerHubBudget', () => {
  it('asks for a ratelimitpreview token, then HEADs its manifest', async () => {
    const hub = fakeHub();
    const line = await readDockerHubBudget({ env: {}, fetch: hub.fetch, redactor: new Redactor(), readConfig: noConfig });
    expect(line).toBe("Docker Hub pull budget: 76 of 100 pulls left per 6 hours (anonymous: counted against this job's IP address, source 203.0.113.7)");
    expect(hub.calls.map((c) => [c.init.method, c.url])).toEqual([
      ['GET', 'https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Aratelimitpreview%2Ftest%3Apull'],
      ['HEAD', 'https://registry-1.docker.io/v2/ratelimitpreview/test/manifests/latest'],
    ]);
    expect(hub.calls[0]?.init.headers.authorization).toBeUndefined();
    expect(hub.calls[1]?.init.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('uses the saved Docker Hub login and registers every secret with the redactor', async () => {
    const hub = fakeHub();
    const redactor = new Redactor();
    const line = await readDockerHubBudget({
      env: { DOCKER_CONFIG: '/cfg' },
      fetch: hub.fetch,
      redactor,
      readConfig: (path) => (path === '/cfg/config.json' ? configWith({ auths: { 'https://index.docker.io/v1/': { auth: auth('me', 'hub-pat-123') } } })() : noConfig()),
    });
    expect(line).toMatch(/\(logged in: counted against the Docker Hub account, source/);
    expect(hub.calls[0]?.init.headers.authorization).toBe(`Basic ${auth('me', 'hub-pat-123')}`);
    const leaked = `pat hub-pat-123 basic ${auth('me', 'hub-pat-123')} token ${TOKEN}`;
    expect(redactor.redact(leaked)).toBe('pat *** basic *** token ***');
  });

  it('honours the URL overrides', async () => {
    const hub = fakeHub();
    await readDockerHubBudget({
      env: { REGAUTH_DOCKERHUB_AUTH_URL: 'http://127.0.0.1:4000/auth', REGAUTH_DOCKERHUB_REGISTRY_URL: 'http://127.0.0.1:5000/' },
      fetch: hub.fetch,
      redactor: new Redactor(),
      readConfig: noConfig,
    });
    expect(hub.calls.map((c) => c.url)).toEqual([
      'http://127.0.0.1:4000/auth?service=registry.docker.io&scope=repository%3Aratelimitpreview%2Ftest%3Apull',
      'http://127.0.0.1:5000/v2/ratelimitpreview/test/manifests/latest',
    ]);
  });

  it('never sends the password in clear text to another host', async () => {
    const hub = fakeHub();
    const line = await readDockerHubBudget({
      env: { REGAUTH_DOCKERHUB_AUTH_URL: 'http://auth.corp.example/token' },
      fetch: hub.fetch,
      redactor: new Redactor(),
      readConfig: configWith({ auths: { 'docker.io': { auth: auth('me', 'secret1') } } }),
    });
    expect(hub.calls[0]?.init.headers.authorization).toBeUndefined();
    expect(line).toMatch(/anonymous/);
  });

  it.each([
    [{ token: () => response(401) }, 'Docker Hub pull budget: could not be read (the token service answered HTTP 401); continuing'],
    [{ token: () => response(200, {}, 'not json') }, 'Docker Hub pull budget: could not be read (the token service sent no token); continuing'],
    [{ manifest: () => response(404) }, 'Docker Hub pull budget: could not be read (the registry answered HTTP 404); continuing'],
    [{ manifest: () => response(429, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' }) }, /^Docker Hub pull budget: 0 of 100 pulls left per 6 hours/],
    [{ manifest: () => response(200) }, "Docker Hub pull budget: unlimited (anonymous: counted against this job's IP address; Docker Hub sent no rate-limit headers)"],
    [{ token: () => response(200, {}, JSON.stringify({ access_token: TOKEN })) }, /76 of 100/],
  ])('answers %#', async (answers, expected) => {
    const line = await readDockerHubBudget({ env: {}, fetch: fakeHub(answers).fetch, redactor: new Redactor(), readConfig: noConfig });
    if (typeof expected === 'string') expect(line).toBe(expected);
    else expect(line).toMatch(expected);
  });

  it('reports a network failure by its code and never throws', async () => {
    const fetch: Fetch = () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }));
    expect(await readDockerHubBudget({ env: {}, fetch, redactor: new Redactor(), readConfig: noConfig })).toBe(
      'Docker Hub pull budget: could not be read (ENOTFOUND); continuing',
    );
  });

  it('gives up when no answer comes in time, even from a transport that ignores the signal', async () => {
    const fetch: Fetch = () => new Promise(() => undefined);
    expect(await readDockerHubBudget({ env: {}, fetch, redactor: new Redactor(), readConfig: noConfig, timeoutMs: 5 })).toBe(
      'Docker Hub pull budget: could not be read (no answer within 5 ms); continuing',
    );
  });

  it.each([
    [{ REGAUTH_DOCKERHUB_AUTH_URL: 'auth.example.com' }, 'REGAUTH_DOCKERHUB_AUTH_URL is not a URL'],
    [{ REGAUTH_DOCKERHUB_REGISTRY_URL: 'ftp://r.example.com' }, 'REGAUTH_DOCKERHUB_REGISTRY_URL must be an http or https URL'],
    [{ REGAUTH_DOCKERHUB_AUTH_URL: 'https://u:p@auth.example.com' }, 'REGAUTH_DOCKERHUB_AUTH_URL must not contain credentials'],
  ])('refuses a bad override %j', async (env, reason) => {
    const hub = fakeHub();
    expect(await readDockerHubBudget({ env, fetch: hub.fetch, redactor: new Redactor(), readConfig: noConfig })).toBe(
      `Docker Hub pull budget: could not be read (${reason}); continuing`,
    );
    expect(hub.calls).toEqual([]);
  });
});

describe('budgetWarning', () => {
  it('warns only when the budget cannot cover the Docker Hub pulls', () => {
    expect(budgetWarning(10, 3)).toBeUndefined();
    expect(budgetWarning(undefined, 3)).toBeUndefined();
    expect(budgetWarning(1, 3)).toBe(
      'warning: Docker Hub pull budget: only 1 left and this step makes 3 Docker Hub pulls (one per image and architecture): 2 may be refused (429 toomanyrequests); log in with regauth/login (a higher limit) or set mirror',
    );
  });
});
