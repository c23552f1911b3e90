import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../testbed/aws/index.ts';
import { ECR_ACCOUNT as ACCOUNT, startEcrStack, type EcrStack } from '../../testbed/ecr-stack.ts';
import { foreignCircleci, type FakeCircleci } from '../../testbed/fake-circleci.ts';
import type { SeededImage } from '../../testbed/images.ts';
import type { Registry } from '../../testbed/registry.ts';
import { loadOrb, runOrbCommand, runUserStep, untilEpoch, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';
import { readFileSync } from 'node:fs';

/**
 * Which program mints job tokens, through the packed orb (issue 24): CircleCI's job agent is
 * `circleci-agent`; `circleci` is its alias, which self-hosted runners may lack and which the
 * stand-alone CircleCI CLI can shadow. The agent is a FAKE here (it cannot run outside CircleCI),
 * minting against the local AWS issuer; the foreign `circleci` is a stand-in for that other CLI.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const ECR_PASSWORD = 'ecr-agent-canary-5d2b90';
const LIFETIME = 8;

describe.runIf(enabled)('the job agent: circleci-agent first, never a foreign circleci', () => {
  let orb: Orb;
  let stack: EcrStack;
  let aws: LocalAws;
  let registry: Registry;
  let image: SeededImage;
  let agent: FakeCircleci;
  let foreign: FakeCircleci;

  beforeAll(async () => {
    orb = loadOrb();
    stack = await startEcrStack({ password: ECR_PASSWORD, lifetimeSeconds: LIFETIME, agentName: 'circleci-agent' });
    ({ aws, agent } = stack);
    [registry] = stack.registries as [Registry];
    [image] = stack.images as [SeededImage];
    foreign = foreignCircleci();
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  /** A job whose PATH starts with `dirs`; its own token lives `tokenSeconds`. */
  const job = (dirs: string[], tokenSeconds: number): Promise<JobContext> => stack.job({ path: dirs, tokenSeconds });
  const login = (context: JobContext) => runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: ACCOUNT }, context);
  const expiryOf = (context: JobContext) => Number(readFileSync(join(context.cwd, '.regauth', 'helper', 'cache', registry.host), 'utf8').split('\n')[2]);
  const mints = () => aws.log.filter((e) => e.service === 'issuer' && e.action === 'mint').length;

  it('only circleci-agent on PATH: the login re-mints an expiring token with it, and a later refresh mints with it', async () => {
    const context = await job([agent.dir], 5);
    context.env.REGAUTH_DEBUG = '1'; // the token's source is a debug line
    const before = agent.calls().length;
    const result = await login(context);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('regauth: OIDC token from circleci-agent run oidc get: ');
    expect(result.stdout).not.toContain('no renewal');
    await untilEpoch(expiryOf(context));
    const minted = mints();
    const pulled = await runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(mints()).toBe(minted + 1);
    expect(agent.calls().slice(before)).toEqual([`run oidc get --claims {"aud":"${aws.orgId}"}`, `run oidc get --claims {"aud":"${aws.orgId}"}`]);
  }, 60_000);

  it('a foreign circleci ahead of circleci-agent: the agent mints, the foreign program is never started', async () => {
    // The foreign program's log is shared by the file's cases; only this case's calls count.
    const before = foreign.calls().length;
    const context = await job([foreign.dir, agent.dir], 5);
    context.env.REGAUTH_DEBUG = '1'; // the token's source is a debug line
    const result = await login(context);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('regauth: OIDC token from circleci-agent run oidc get: ');
    await untilEpoch(expiryOf(context));
    const pulled = await runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(foreign.calls().slice(before)).toEqual([]);
  }, 60_000);

  it('neither on PATH: the job\'s own token logs in, and the login says once that a refresh cannot renew, and why', async () => {
    const context = await job([], 600);
    const result = await login(context);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/regauth: logged in to \S+ as arn:aws:iam::\d{12}:role\/\S+, valid until \d\d:\d\d:\d\d UTC, /);
    const lines = result.stdout.split('\n').filter((line) => line.includes('no renewal'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^regauth: credentials last until \d\d:\d\d:\d\d UTC, no renewal: neither circleci-agent nor circleci is on PATH$/);
    expect(lines[0]?.length).toBeLessThanOrEqual(160);
    expect(result.stderr).toBe('');
  }, 60_000);

  it('only a foreign circleci: the login says in one line that it is not the agent, and only ever asked it for help', async () => {
    const before = foreign.calls().length;
    const context = await job([foreign.dir], 600);
    const result = await login(context);
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => line.includes('no renewal'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^regauth: credentials last until \d\d:\d\d:\d\d UTC, no renewal: /);
    expect(lines[0]?.endsWith(`: ${foreign.dir}/circleci is not CircleCI's job agent (its help offers no --claims), nor is circleci-agent on PATH`)).toBe(true);
    const asked = foreign.calls().slice(before);
    expect(asked.length).toBeGreaterThan(0);
    for (const call of asked) expect(call).toBe('run oidc get --help');
  }, 60_000);
});
