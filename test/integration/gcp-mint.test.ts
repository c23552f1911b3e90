import { describe, expect, it } from 'vitest';
import { Reporter, unmarked } from '../../src/core/output.ts';
import {
  classifyGoogleResponse,
  classifyNetworkError,
  DeadlineExceededError,
  externalAccountConfig,
  GoogleCallError,
  isSubjectTooLong,
  mintGoogleAccessToken,
  nodePost,
  sanitizeGoogleMessage,
  type GoogleHttpRequest,
  type GoogleHttpResponse,
  type GoogleMintSettings,
} from '../../src/clouds/gcp/index.ts';
import { createServer } from 'node:http';
import { listenOnLoopback } from '../../testbed/ports.ts';

const SETTINGS: GoogleMintSettings = {
  workloadIdentityProvider: 'projects/123/locations/global/workloadIdentityPools/circleci/providers/acme-org',
  serviceAccount: 'ci-pull@p.iam.gserviceaccount.com',
  tokenLifetimeSeconds: 1800,
  endpoints: { sts: 'https://sts.example/', iamCredentials: 'https://iam.example/' },
};
const JOB_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqb2IifQ.c2lnbmF0dXJlLWNhbmFyeQ';
const FEDERATED = 'ya29.d.federated-canary-1234567890';
const ACCESS = 'ya29.c.access-canary-0987654321';

const json = (status: number, body: unknown, headers: Record<string, string> = {}): GoogleHttpResponse => ({ status, headers, body: JSON.stringify(body) });
const okSts = json(200, { access_token: FEDERATED, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3599 });
const okIam = json(200, { accessToken: ACCESS, expireTime: '2030-01-01T00:30:00Z' });

/** A scripted Google: answers (or throws) in order, records each request. */
function scripted(answers: (GoogleHttpResponse | Error)[]) {
  const requests: GoogleHttpRequest[] = [];
  const sleeps: number[] = [];
  return {
    requests,
    sleeps,
    deps: {
      post: async (request: GoogleHttpRequest) => {
        requests.push(request);
        const next = answers.shift();
        if (next === undefined) throw new Error('no scripted answer left');
        if (next instanceof Error) throw next;
        return next;
      },
      retryDeps: { sleep: async (ms: number) => void sleeps.push(ms), random: () => 0.5 },
    },
  };
}

describe('mintGoogleAccessToken', () => {
  it('exchanges the job token at STS, then impersonates the service account', async () => {
    const google = scripted([okSts, okIam]);
    const secrets: string[] = [];
    const minted = await mintGoogleAccessToken(SETTINGS, JOB_TOKEN, { ...google.deps, onSecret: (s) => secrets.push(s) });
    expect(minted).toEqual({ accessToken: ACCESS, expiresAt: new Date('2030-01-01T00:30:00Z'), kind: 'impersonated' });
    expect(secrets).toEqual([FEDERATED, ACCESS]);
    const [sts, iam] = google.requests;
    expect(sts?.url).toBe('https://sts.example/v1/token');
    expect(Object.fromEntries(new URLSearchParams(sts?.body))).toEqual({
      audience: `//iam.googleapis.com/${SETTINGS.workloadIdentityProvider}`,
      grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
      subjectToken: JOB_TOKEN,
    });
    expect(iam?.url).toBe('https://iam.example/v1/projects/-/serviceAccounts/ci-pull@p.iam.gserviceaccount.com:generateAccessToken');
    expect(iam?.headers.authorization).toBe(`Bearer ${FEDERATED}`);
    expect(JSON.parse(iam?.body ?? '')).toEqual({ scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '1800s' });
    expect(google.requests.every((r) => r.timeoutMs > 0 && r.timeoutMs <= 30_000)).toBe(true);
  });

  it('uses the federated token directly without a service account', async () => {
    const google = scripted([okSts]);
    const minted = await mintGoogleAccessToken({ ...SETTINGS, serviceAccount: '' }, JOB_TOKEN, { ...google.deps, now: () => 1_000_000 });
    expect(minted).toEqual({ accessToken: FEDERATED, expiresAt: new Date(1_000_000 + 3599_000), kind: 'federated' });
    expect(google.requests).toHaveLength(1);
  });

  it('retries 429, 5xx, resets and deadlines with backoff, honouring Retry-After', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const google = scripted([json(429, { error: 'rate_limit_exceeded' }, { 'retry-after': '7' }), json(503, { error: 'server_error' }), reset, new DeadlineExceededError('https://sts.example/', 15_000), okSts, json(500, { error: { code: 500, message: 'x', status: 'INTERNAL' } }), okIam]);
    const retried: string[] = [];
    const minted = await mintGoogleAccessToken(SETTINGS, JOB_TOKEN, { ...google.deps, onRetry: (op, attempt, verdict) => retried.push(`${op} ${attempt} ${verdict.reason}`) });
    expect(minted.accessToken).toBe(ACCESS);
    expect(google.requests).toHaveLength(7);
    expect(google.sleeps[0]).toBe(7000);
    expect(retried.map((r) => r.split(':')[0])).toEqual([
      'sts.googleapis.com token exchange 1 rate_limit_exceeded (HTTP 429)',
      'sts.googleapis.com token exchange 2 server_error (HTTP 503)',
      'sts.googleapis.com token exchange 3 ECONNRESET',
      'sts.googleapis.com token exchange 4 ETIMEDOUT',
      'iamcredentials generateAccessToken 1 INTERNAL (HTTP 500)',
    ]);
  });

  it.each([
    ['invalid_grant', 400, { error: 'invalid_grant', error_description: 'The audience in ID Token [x] does not match the expected audience.' }],
    ['invalid_target', 400, { error: 'invalid_target', error_description: 'The target service indicated by the "audience" parameters is invalid.' }],
    ['invalid_request', 400, { error: 'invalid_request', error_description: 'Invalid value for "subject_token_type".' }],
    ['unauthorized_client', 400, { error: 'unauthorized_client', error_description: 'The given credential is rejected by the attribute condition.' }],
    ['HTTP 401', 401, 'Unauthorized'],
  ])('fails at once on STS %s, after exactly one request', async (code, status, body) => {
    const google = scripted([{ status, headers: {}, body: typeof body === 'string' ? body : JSON.stringify(body) }]);
    const error = (await mintGoogleAccessToken(SETTINGS, JOB_TOKEN, google.deps).catch((e: unknown) => e)) as GoogleCallError;
    expect(error).toBeInstanceOf(GoogleCallError);
    expect([error.code, error.kind, error.attempts, google.requests.length]).toEqual([code, 'permanent', 1, 1]);
    expect(error.message).toMatch(/^sts\.googleapis\.com token exchange failed: /);
  });

  it.each([
    ['PERMISSION_DENIED', 403, "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."],
    ['UNAUTHENTICATED', 401, 'Request had invalid authentication credentials.'],
    ['INVALID_ARGUMENT', 400, 'The requested lifetime exceeds the maximum.'],
  ])('fails at once on generateAccessToken %s, after exactly one request to it', async (status, code, message) => {
    const google = scripted([okSts, json(code, { error: { code, message, status } })]);
    const error = (await mintGoogleAccessToken(SETTINGS, JOB_TOKEN, google.deps).catch((e: unknown) => e)) as GoogleCallError;
    expect([error.code, error.attempts, google.requests.length, error.operation]).toEqual([status, 1, 2, 'iamcredentials generateAccessToken']);
    expect(error.message).toContain(message);
  });

  it('gives up after the policy\'s attempts on a lasting 503 and says how many', async () => {
    const google = scripted(Array.from({ length: 5 }, () => json(503, { error: 'server_error', error_description: 'down' })));
    const error = (await mintGoogleAccessToken(SETTINGS, JOB_TOKEN, google.deps).catch((e: unknown) => e)) as GoogleCallError;
    // Google's words are marked as remote text: the Reporter quotes and cuts them after redaction.
    expect(unmarked(error.message)).toBe('sts.googleapis.com token exchange failed after 5 attempts: server_error (HTTP 503): down; Google is throttling or unavailable: rerun the job in a few minutes');
    expect(new Reporter().render(error.message)).toContain('server_error (HTTP 503): "down"; Google');
  });

  it('removes tokens Google quotes back before it shortens the message', async () => {
    const quoted = `invalid subject ${JOB_TOKEN} and ${'x'.repeat(280)} bearer ${FEDERATED}`;
    const google = scripted([okSts, json(401, { error: { code: 401, message: `token ${FEDERATED} rejected; ${quoted}`, status: 'UNAUTHENTICATED' } })]);
    const error = (await mintGoogleAccessToken(SETTINGS, JOB_TOKEN, google.deps).catch((e: unknown) => e)) as GoogleCallError;
    expect(error.message).not.toContain(FEDERATED.slice(0, 12));
    expect(error.message).not.toContain(JOB_TOKEN.slice(0, 12));
    expect(error.message).toContain('token *** rejected; invalid subject ***');
  });

  it('a 200 that is not the documented JSON is a permanent failure that quotes nothing', async () => {
    const google = scripted([{ status: 200, headers: {}, body: `<html>${FEDERATED}</html>` }]);
    const error = (await mintGoogleAccessToken(SETTINGS, JOB_TOKEN, google.deps).catch((e: unknown) => e)) as GoogleCallError;
    expect([error.code, google.requests.length]).toEqual(['BadResponse', 1]);
    expect(error.message).not.toContain(FEDERATED);
  });
});

describe('Google error classification', () => {
  it('reads both error shapes', () => {
    expect(classifyGoogleResponse(json(400, { error: 'invalid_grant', error_description: 'bad aud' }))).toEqual({ kind: 'permanent', code: 'invalid_grant', status: 400, message: 'bad aud' });
    expect(classifyGoogleResponse(json(403, { error: { code: 403, message: 'denied', status: 'PERMISSION_DENIED' } }))).toEqual({ kind: 'permanent', code: 'PERMISSION_DENIED', status: 403, message: 'denied' });
    expect(classifyGoogleResponse(json(429, { error: { code: 429, message: 'q', status: 'RESOURCE_EXHAUSTED' } }, { 'retry-after': '3' }))).toMatchObject({ kind: 'transient', retryAfterMs: 3000 });
    expect(classifyGoogleResponse({ status: 502, headers: {}, body: '<html>bad gateway</html>' })).toMatchObject({ kind: 'transient', code: 'HTTP 502' });
  });

  it('treats resets and timeouts as transient, refused connections and unknown hosts as permanent', () => {
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'ECONNRESET' })).kind).toBe('transient');
    expect(classifyNetworkError(new DeadlineExceededError('https://sts.example/', 1000)).kind).toBe('transient');
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'ENOTFOUND' })).kind).toBe('permanent');
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).kind).toBe('permanent');
  });

  it('knows the google.subject limit refusal', () => {
    const c = classifyGoogleResponse(json(400, { error: 'invalid_request', error_description: 'The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your attribute mapping or the incoming assertion.' }));
    expect(isSubjectTooLong(c)).toBe(true);
    expect(isSubjectTooLong(classifyGoogleResponse(json(400, { error: 'invalid_grant', error_description: 'expired' })))).toBe(false);
  });

  it('sanitises: secrets, JWT- and ya29-shaped tokens, control characters, then the cap', () => {
    expect(sanitizeGoogleMessage('a\u001b[31mb\nc ya29.abc-def eyJa.eyJb.c', [])).toBe('a [31mb c <token> <token>');
    expect(sanitizeGoogleMessage(`${'y'.repeat(298)}SECRET-VALUE`, ['SECRET-VALUE'])).toBe(`${'y'.repeat(297)}...`);
    expect(sanitizeGoogleMessage(`${'y'.repeat(290)}SECRET-VALUE`, ['SECRET-VALUE'])).toBe(`${'y'.repeat(290)}***`);
  });
});

describe('nodePost', () => {
  it('ends a request that outlives its deadline', async () => {
    const server = createServer(() => undefined);
    const port = await listenOnLoopback(server);
    try {
      await expect(nodePost({ url: `http://127.0.0.1:${port}/v1/token`, headers: {}, body: '', timeoutMs: 200 })).rejects.toBeInstanceOf(DeadlineExceededError);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('externalAccountConfig', () => {
  it('names the audience, STS, impersonation and the credential source it is given', () => {
    expect(externalAccountConfig(SETTINGS, { file: '/h/.regauth/gcp-1/oidc-token', format: { type: 'text' } })).toEqual({
      type: 'external_account',
      audience: `//iam.googleapis.com/${SETTINGS.workloadIdentityProvider}`,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: 'https://sts.example/v1/token',
      service_account_impersonation_url: 'https://iam.example/v1/projects/-/serviceAccounts/ci-pull@p.iam.gserviceaccount.com:generateAccessToken',
      service_account_impersonation: { token_lifetime_seconds: 1800 },
      credential_source: { file: '/h/.regauth/gcp-1/oidc-token', format: { type: 'text' } },
    });
    const direct = externalAccountConfig({ ...SETTINGS, serviceAccount: '' }, { executable: { command: '/usr/bin/helper get-token', timeout_millis: 5000 } });
    expect(direct).not.toHaveProperty('service_account_impersonation_url');
    expect(direct.credential_source).toEqual({ executable: { command: '/usr/bin/helper get-token', timeout_millis: 5000 } });
  });
});
