import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../../src/core/process.ts';
import { awsEcrProvider } from '../../src/clouds/aws/provider.ts';
import { pinnedAwsEnv, type AwsEcrRecipe } from '../../src/clouds/aws/recipe.ts';
import { gcpProvider } from '../../src/clouds/gcp/provider.ts';
import type { GcpRecipe } from '../../src/clouds/gcp/recipe.ts';
import { helperMain, type HelperIo } from '../../src/refresh/helper.ts';
import type { UngroupedRecipe } from '../../src/refresh/recipe.ts';
import type { Refreshers } from '../../src/refresh/refreshers.ts';
import { groupId } from '../../src/refresh/setup.ts';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { fakeCircleci, type FakeCircleci } from '../../testbed/fake-circleci.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { makeTempDir } from '../../testbed/tempdir.ts';

/**
 * Issue 25, item 4: the helper's refresh runs in whatever step asks docker for credentials. A
 * later step pointed at another server (LocalStack, a test double, anything) must not receive the
 * freshly minted job token, and that server's answer must never be cached for the real registry:
 * the refresh uses only the endpoints the login used. The helper's node half runs here as docker
 * starts it (helperMain, the real refreshers, the real AWS SDK and Google client code), minting
 * through a fake CircleCI agent (a seam that cannot run here) against the local AWS and Google.
 */
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const ECR_PASSWORD = 'pinned-endpoint-canary-41c9';
const ECR_HOST = '127.0.0.1:5999';
const GAR_HOST = 'us-docker.pkg.dev';

/** The other server a later step names: it counts every request and answers 500. */
interface Trap {
  url: string;
  requests: string[];
  stop(): Promise<void>;
}
async function startTrap(): Promise<Trap> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(`${request.method ?? ''} ${request.url ?? ''}`);
    request.resume();
    response.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"trap"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, requests, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

const JOB = '4242';

describe('a refresh sends the job token only to the endpoints the login used', () => {
  let aws: LocalAws;
  let google: LocalGoogle;
  let trap: Trap;
  let agent: FakeCircleci;
  const home = makeTempDir('regauth-refresh-endpoints-');

  beforeAll(async () => {
    aws = await startLocalAws({ roles: { [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT] } }, ecrPassword: ECR_PASSWORD, proxyEndpoints: { [ACCOUNT]: `https://${ECR_HOST}` } });
    google = await startLocalGoogle({ issuer: aws.issuer, orgId: aws.orgId, attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    trap = await startTrap();
    agent = fakeCircleci(aws.mintUrl, process.execPath, 'circleci-agent');
  }, 60_000);
  afterAll(async () => {
    await Promise.all([aws?.stop(), google?.stop(), trap?.stop()]);
    await home.remove();
  });

  /** A helper directory holding one recipe routed for `host`, as a login leaves it. */
  function helperWith(recipe: UngroupedRecipe, host: string): { io: HelperIo; dir: string; out: string[]; err: string[]; group: string } {
    const dir = join(makeTempDir('regauth-home-').path, '.regauth', 'helper');
    const group = groupId(recipe);
    for (const sub of ['recipes', 'routes', 'cache', 'locks']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'recipes', `${group}.json`), JSON.stringify({ ...recipe, group }), { mode: 0o600 });
    writeFileSync(join(dir, 'routes', host), `${group}\n`, { mode: 0o600 });
    // A login binds the helper to its job; the asking step is of the same job.
    writeFileSync(join(dir, 'job'), `${JOB}\n`, { mode: 0o600 });
    const out: string[] = [];
    const err: string[] = [];
    const home = join(dir, '..', '..');
    const now = Date.now;
    // The asking step's environment: its own endpoints name the trap.
    const stepEnv = { HOME: home, PATH: `${agent.dir}:/usr/bin:/bin`, CIRCLE_BUILD_NUM: JOB, ...trapEnv() };
    const io: HelperIo = {
      env: stepEnv,
      stdin: async () => host,
      stdout: (text) => void out.push(text),
      stderr: (text) => void err.push(text),
      now,
      lock: { now, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), isAlive: () => true },
      refresh: { env: stepEnv, run: runProcess, retry: { sleep: async () => undefined, random: () => 0 } },
      deadlineMs: 20_000,
    };
    return { io, dir, out, err, group };
  }

  const trapEnv = (): Record<string, string> => ({
    AWS_ENDPOINT_URL: trap.url,
    AWS_ENDPOINT_URL_STS: trap.url,
    AWS_ENDPOINT_URL_ECR: trap.url,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: trap.url,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: trap.url,
  });

  /** The helper process's own environment is the asking step's (the AWS SDK reads process.env). */
  async function inStep<T>(work: () => Promise<T>): Promise<T> {
    const saved = { ...process.env };
    Object.assign(process.env, trapEnv());
    try {
      return await work();
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  }

  it('aws-ecr: the step\'s AWS_ENDPOINT_URL* get nothing; the cache holds the login\'s endpoints\' answer', async () => {
    const recipe: Omit<AwsEcrRecipe, 'group'> = {
      kind: 'aws-ecr', audience: aws.orgId, hosts: [ECR_HOST], roleArn: ROLE, region: 'us-east-1', accountIds: [ACCOUNT], includePublic: false, sessionName: 'pinned', durationSeconds: 3600,
      settings: aws.endpointEnv(),
    };
    const h = helperWith(recipe, ECR_HOST);
    const refreshers: Refreshers = { [awsEcrProvider.kind]: awsEcrProvider.refresh };
    const before = { sts: aws.count('sts', 'AssumeRoleWithWebIdentity'), ecr: aws.count('ecr', 'GetAuthorizationToken') };
    const code = await inStep(async () => {
      const result = await helperMain(['get', ECR_HOST], refreshers, h.io);
      // The step's settings are back once the refresh is over.
      expect(process.env.AWS_ENDPOINT_URL_STS).toBe(trap.url);
      return result;
    });
    expect(code, h.err.join('') + h.out.join('')).toBe(0);
    expect(trap.requests).toEqual([]);
    expect(JSON.parse(h.out.join(''))).toEqual({ ServerURL: ECR_HOST, Username: 'AWS', Secret: ECR_PASSWORD });
    expect({ sts: aws.count('sts', 'AssumeRoleWithWebIdentity'), ecr: aws.count('ecr', 'GetAuthorizationToken') }).toEqual({ sts: before.sts + 1, ecr: before.ecr + 1 });
    expect(readFileSync(join(h.dir, 'cache', ECR_HOST), 'utf8')).toContain(ECR_PASSWORD);
    expect(agent.calls().at(-1)).toBe(`run oidc get --claims {"aud":"${aws.orgId}"}`);
  }, 60_000);

  it('aws-ecr: a recipe without endpoint settings goes to the defaults, never to the step\'s (nor a profile\'s)', async () => {
    const profileDir = makeTempDir('regauth-profile-').path;
    writeFileSync(join(profileDir, 'config'), `[profile lab]\nendpoint_url = ${trap.url}\n`);
    const recipe: AwsEcrRecipe = {
      kind: 'aws-ecr', group: 'aws-ecr-000000000000', audience: aws.orgId, hosts: [ECR_HOST], roleArn: ROLE, region: 'us-east-1', accountIds: [ACCOUNT], includePublic: false, sessionName: 'pinned', durationSeconds: 900,
    };
    const pinned = pinnedAwsEnv(recipe, { ...trapEnv(), AWS_CONFIG_FILE: join(profileDir, 'config'), AWS_PROFILE: 'lab', HOME: '/h' });
    expect(pinned).toEqual({
      AWS_ENDPOINT_URL: undefined,
      AWS_ENDPOINT_URL_STS: undefined,
      AWS_ENDPOINT_URL_ECR: undefined,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PROFILE: undefined,
      AWS_DEFAULT_PROFILE: undefined,
    });
    expect(() => pinnedAwsEnv({ ...recipe, settings: { LD_PRELOAD: '/x.so' } }, {})).toThrow(/invalid setting "LD_PRELOAD"/);
  });

  it('gcp: the step\'s CLOUDSDK_API_ENDPOINT_OVERRIDES_* get nothing; the cache holds the login\'s endpoints\' answer', async () => {
    const recipe: Omit<GcpRecipe, 'group'> = {
      kind: 'gcp', audience: aws.orgId, hosts: [GAR_HOST], provider: google.providerName, serviceAccount: SA, tokenLifetimeSeconds: 3600, settings: google.endpointEnv(),
    };
    const h = helperWith(recipe, GAR_HOST);
    google.resetCounters();
    const code = await inStep(() => helperMain(['get', GAR_HOST], { [gcpProvider.kind]: gcpProvider.refresh }, h.io));
    expect(code, h.err.join('') + h.out.join('')).toBe(0);
    expect(trap.requests).toEqual([]);
    const answer = JSON.parse(h.out.join('')) as { Username: string; Secret: string };
    expect(answer.Username).toBe('oauth2accesstoken');
    expect(google.count('iam')).toBe(1);
    expect(readFileSync(join(h.dir, 'cache', GAR_HOST), 'utf8')).toContain(answer.Secret);
  }, 60_000);
});
