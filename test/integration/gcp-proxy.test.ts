import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintGoogleAccessToken } from '../../src/clouds/gcp/index.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { listenOnLoopback } from '../../testbed/ports.ts';

/**
 * regauth's Google calls honour HTTP(S)_PROXY and NO_PROXY (node's fetch would not): through a
 * forwarding proxy on 127.0.0.1 that records each request it carries.
 */
const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';

describe('the Google mint through a proxy', () => {
  let google: LocalGoogle;
  let proxy: http.Server;
  let proxyUrl: string;
  const carried: string[] = [];

  beforeAll(async () => {
    google = await startLocalGoogle({ attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    // A plain forwarding proxy: requests arrive with absolute URLs, go on unchanged.
    proxy = http.createServer((req, res) => {
      carried.push(`${req.method ?? ''} ${req.url ?? ''}`);
      const target = new URL(req.url ?? '');
      const upstream = http.request(target, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    proxyUrl = `http://127.0.0.1:${await listenOnLoopback(proxy)}`;
  });

  afterAll(async () => {
    proxy?.closeAllConnections();
    proxy?.close();
    await google?.stop();
  });

  async function withEnv<T>(env: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    try {
      return await work();
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  }

  const settings = () => ({ workloadIdentityProvider: google.providerName, serviceAccount: SA, tokenLifetimeSeconds: 3600, endpoints: { sts: google.urls.sts, iamCredentials: google.urls.iamCredentials } });

  it('sends STS and IAM Credentials requests through HTTP_PROXY', async () => {
    carried.length = 0;
    const minted = await withEnv({ HTTP_PROXY: proxyUrl, http_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined }, async () => mintGoogleAccessToken(settings(), await google.mintToken()));
    expect(google.verifyAccessToken(minted.accessToken)?.serviceAccount).toBe(SA);
    expect(carried).toEqual([`POST ${google.urls.sts}v1/token`, `POST ${google.urls.iamCredentials}v1/projects/-/serviceAccounts/${SA}:generateAccessToken`]);
  });

  it('goes direct for hosts in NO_PROXY', async () => {
    carried.length = 0;
    const minted = await withEnv({ HTTP_PROXY: proxyUrl, http_proxy: undefined, NO_PROXY: '127.0.0.1', no_proxy: undefined }, async () => mintGoogleAccessToken(settings(), await google.mintToken()));
    expect(minted.kind).toBe('impersonated');
    expect(carried).toEqual([]);
  });
});
