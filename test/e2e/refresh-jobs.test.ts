import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ROOT_OVERRIDE } from '../../src/core/places.ts';
import type { LocalAws } from '../../testbed/aws/index.ts';
import { ECR_ACCOUNT as ACCOUNT, ECR_ACCOUNT_B as ACCOUNT_B, startEcrStack, type EcrStack } from '../../testbed/ecr-stack.ts';
import type { SeededImage } from '../../testbed/images.ts';
import type { Registry } from '../../testbed/registry.ts';
import { loadOrb, runOrbCommand, runUserStep, untilEpoch, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * A job's credentials belong to that job (issue 25, items 1 and 2), through the packed orb, a real
 * dockerd and the local AWS: a refresh still running when logout runs leaves nothing behind, and
 * on a persistent machine (one HOME and docker config for job after job) the helper a job left
 * without logout answers no other job, never mints for it, and the next login clears it away.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const ECR_PASSWORD = 'ecr-jobs-canary-51c0e9';
/** Every session token the local STS issues starts so (testbed/aws/state.ts). */
const STS_TOKEN_CANARY = 'IQoJb3JpZ2luX2Vj';
const LIFETIME = 8;
const NOT_FOUND = 'credentials not found in native keychain\n';

describe.runIf(enabled)('refresh: a job\'s credentials belong to that job', () => {
  let orb: Orb;
  let stack: EcrStack;
  let aws: LocalAws;
  let registry: Registry;
  let registryB: Registry;
  let image: SeededImage;

  beforeAll(async () => {
    orb = loadOrb();
    stack = await startEcrStack({ password: ECR_PASSWORD, accounts: [ACCOUNT, ACCOUNT_B], lifetimeSeconds: LIFETIME });
    ({ aws } = stack);
    [registry, registryB] = stack.registries as [Registry, Registry];
    image = stack.images[0] as SeededImage;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const job = (): Promise<JobContext> => stack.job();

  /** A later job on the same machine as `first`: its own CircleCI identity and job token, `first`'s HOME, docker config and PATH. */
  async function nextJobOnMachineOf(first: JobContext): Promise<JobContext> {
    const own = await job();
    const shared = ['HOME', 'DOCKER_CONFIG', 'PATH', SYSTEM_ROOT_OVERRIDE];
    return { ...own, cwd: first.cwd, env: { ...own.env, ...Object.fromEntries(shared.map((name) => [name, first.env[name] ?? ''])) } };
  }

  const login = (context: JobContext, params: Record<string, ParameterValue> = {}) =>
    runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: `${ACCOUNT},${ACCOUNT_B}`, ...params }, context);
  const helperDir = (context: JobContext) => join(context.env.HOME ?? '', '.regauth', 'helper');
  const cacheFile = (context: JobContext, host: string) => join(helperDir(context), 'cache', host);
  const refreshAtOf = (context: JobContext, host: string) => Number(readFileSync(cacheFile(context, host), 'utf8').split('\n')[0]);
  const credHelpers = (context: JobContext) =>
    (JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as { credHelpers?: Record<string, string> }).credHelpers;
  const exchanges = () => ({ mint: aws.log.filter((e) => e.service === 'issuer' && e.action === 'mint').length, sts: aws.count('sts'), ecr: aws.count('ecr') });
  const get = (context: JobContext, host: string) => runUserStep(context, 'printf %s "$HOST" | docker-credential-regauth get', { HOST: host });

  /** Every regular file under `dir` that holds one of `canaries`. */
  function filesHolding(dir: string, canaries: readonly string[]): string[] {
    const found: string[] = [];
    const walk = (path: string): void => {
      const stat = lstatSync(path);
      if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
      else if (stat.isFile() && canaries.some((canary) => readFileSync(path, 'latin1').includes(canary))) found.push(path);
    };
    walk(dir);
    return found;
  }

  async function pollUntil(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('logout stops a refresh the slow cloud still holds: once both end, nothing of the helper and no secret is on disk', async () => {
    const context = await job();
    const loggedIn = await login(context, { export_credentials: true });
    expect(loggedIn.exitCode, loggedIn.stderr).toBe(0);
    await untilEpoch(refreshAtOf(context, registry.host));

    // A background step's docker pull asks the helper; its refresh is held at STS.
    const held = aws.holdNext('sts');
    let pulling: Promise<unknown> | undefined;
    try {
      pulling = runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
      await held.arrived;
      let loggedOut = false;
      const logout = runOrbCommand(orb, 'logout', {}, context).finally(() => (loggedOut = true));
      // The cloud answers once logout has begun: it returned already, or it fenced the helper off
      // and waits for the running refresh (which it must not wait for past its deadline).
      await pollUntil(() => loggedOut || existsSync(join(helperDir(context), 'fenced')), 'logout to begin');
      held.release();
      const out = await logout;
      expect(out.exitCode, out.stderr).toBe(0);
    } finally {
      held.release();
      await pulling;
    }
    expect(aws.count('sts', 'AssumeRoleWithWebIdentity')).toBeGreaterThanOrEqual(2);
    expect(existsSync(helperDir(context))).toBe(false);
    expect(existsSync(join(context.cwd, 'bin', 'docker-credential-regauth'))).toBe(false);
    expect(filesHolding(context.cwd, [ECR_PASSWORD, STS_TOKEN_CANARY])).toEqual([]);
  }, 90_000);

  it('another job on the machine gets nothing from a helper left without logout, mints nothing, and its own login clears it away', async () => {
    const first = await job();
    const loggedIn = await login(first);
    expect(loggedIn.exitCode, loggedIn.stderr).toBe(0);
    const firstSession = aws.log.filter((e) => e.service === 'sts').at(-1)?.roleSessionName;
    expect(firstSession).toBe(`regauth-app-${first.env.CIRCLE_BUILD_NUM}`);
    // No logout: the job ends. The next one runs no regauth step.
    const next = await nextJobOnMachineOf(first);
    expect(next.env.CIRCLE_BUILD_NUM).not.toBe(first.env.CIRCLE_BUILD_NUM);
    const before = exchanges();

    // While the first job's cache is fresh: docker's "no credentials", one line on stderr.
    const asked = await get(next, registry.host);
    expect(asked.exitCode).toBe(1);
    expect(asked.stdout).toBe(NOT_FOUND);
    expect(asked.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(asked.stderr).toMatch(/^regauth: the credential helper was set up by another CircleCI job/);
    const pulled = await runUserStep(next, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
    expect(pulled.exitCode).not.toBe(0);
    expect(`${pulled.stdout}${pulled.stderr}`).not.toContain(ECR_PASSWORD);

    // Once it needs renewing: still nothing, and no job token minted, no role assumed.
    await untilEpoch(refreshAtOf(first, registry.host));
    const later = await get(next, registry.host);
    expect([later.exitCode, later.stdout]).toEqual([1, NOT_FOUND]);
    const pulledLater = await runUserStep(next, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
    expect(pulledLater.exitCode).not.toBe(0);
    expect(exchanges()).toEqual(before);

    // The next job's own login (one account) clears the first job's helper state, cache and entries.
    const own = await login(next, { account_ids: ACCOUNT });
    expect(own.exitCode, own.stderr).toBe(0);
    expect(credHelpers(next)).toEqual({ [registry.host]: 'regauth' });
    expect(existsSync(cacheFile(next, registryB.host))).toBe(false);
    expect(aws.log.filter((e) => e.service === 'sts').slice(-1).map((e) => e.roleSessionName)).toEqual([`regauth-app-${next.env.CIRCLE_BUILD_NUM}`]);
    const served = await get(next, registry.host);
    expect(served.exitCode, served.stderr).toBe(0);
    // ... and now the first job, were it still asking, gets nothing.
    expect((await get(first, registry.host)).stdout).toBe(NOT_FOUND);

    const out = await runOrbCommand(orb, 'logout', {}, next);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(existsSync(helperDir(next))).toBe(false);
    expect(credHelpers(next) ?? {}).toEqual({});
    expect(filesHolding(first.cwd, [ECR_PASSWORD, STS_TOKEN_CANARY])).toEqual([]);
    // No role was ever assumed under the first job's session name after it ended.
    expect(aws.log.filter((e) => e.service === 'sts').map((e) => e.roleSessionName).filter((name) => name === firstSession)).toHaveLength(1);
  }, 90_000);
});
