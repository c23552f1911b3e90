import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../testbed/aws/index.ts';
import { ECR_ACCOUNT as ACCOUNT, startEcrStack, type EcrStack } from '../../testbed/ecr-stack.ts';
import type { FakeCircleci } from '../../testbed/fake-circleci.ts';
import type { SeededImage } from '../../testbed/images.ts';
import type { Registry } from '../../testbed/registry.ts';
import { loadOrb, runOrbCommand, runUserStep, untilEpoch, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * Issue 25, item 4, as docker runs the helper: after an ecr-oidc-login with refresh, a later step
 * points the AWS SDK at another local server (as a step set up for LocalStack would) and runs
 * `docker pull` once the credentials expired. docker starts docker-credential-regauth with that
 * step's environment; the refresh must still go only to the login's endpoints: the other server
 * gets no request (so no job token), and the cache holds the login's endpoints' answer. The job
 * agent is a FAKE (it cannot run outside CircleCI).
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const ECR_PASSWORD = 'pinned-e2e-canary-93f1';
const LIFETIME = 8;

describe.runIf(enabled)("a refresh never follows a later step's AWS endpoints", () => {
  let orb: Orb;
  let stack: EcrStack;
  let aws: LocalAws;
  let registry: Registry;
  let image: SeededImage;
  let agent: FakeCircleci;
  let other: Server;
  let otherUrl = '';
  const otherRequests: string[] = [];

  beforeAll(async () => {
    orb = loadOrb();
    stack = await startEcrStack({ password: ECR_PASSWORD, lifetimeSeconds: LIFETIME });
    ({ aws, agent } = stack);
    [registry] = stack.registries as [Registry];
    [image] = stack.images as [SeededImage];
    // The other server a later step names: it records every request and answers 500.
    other = createServer((request, response) => {
      otherRequests.push(`${request.method ?? ''} ${request.url ?? ''}`);
      request.resume();
      response.writeHead(500).end('{"message":"not the login endpoint"}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => other?.close(resolve));
    await stack?.stop();
  });

  const job = (): Promise<JobContext> => stack.job();

  it('docker pull in a step with AWS_ENDPOINT_URL* at another server: that server gets nothing, the pull works', async () => {
    const context = await job();
    const login = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: ACCOUNT }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    const cache = join(context.cwd, '.regauth', 'helper', 'cache', registry.host);
    await untilEpoch(Number(readFileSync(cache, 'utf8').split('\n')[2]));
    const sts = aws.count('sts', 'AssumeRoleWithWebIdentity');
    const mints = agent.calls().length;
    const elsewhere = { AWS_ENDPOINT_URL: otherUrl, AWS_ENDPOINT_URL_STS: otherUrl, AWS_ENDPOINT_URL_ECR: otherUrl, AWS_ENDPOINT_URL_ECR_PUBLIC: otherUrl };
    const pulled = await runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref, ...elsewhere });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(otherRequests).toEqual([]);
    expect(agent.calls().length).toBe(mints + 1);
    expect(aws.count('sts', 'AssumeRoleWithWebIdentity')).toBe(sts + 1);
    expect(readFileSync(cache, 'utf8')).toContain(ECR_PASSWORD);
    expect(Number(readFileSync(cache, 'utf8').split('\n')[2])).toBeGreaterThan(Date.now() / 1000);
  }, 60_000);
});
