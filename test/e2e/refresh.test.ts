import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../testbed/aws/index.ts';
import { ECR_ACCOUNT as ACCOUNT, ECR_ACCOUNT_B as ACCOUNT_B, startEcrStack, type EcrStack } from '../../testbed/ecr-stack.ts';
import { startProcSampler } from '../support/canary.ts';
import type { FakeCircleci } from '../../testbed/fake-circleci.ts';
import type { SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, runOrbCommand, JOBS_HELPER_ON_PATH, runShStep, runUserStep, untilEpoch, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * refresh: true end to end, through the packed orb, a real dockerd and the real AWS CLI v2: the
 * local AWS issues credentials that live LIFETIME seconds (job tokens from the fake circleci CLI,
 * STS keys, ECR passwords), so "three hours into the job" is a few seconds here. regauth's margin
 * is half the lifetime for lifetimes this short (5 minutes for every real one), so the tests wait
 * for real expiry without any test-only switch in the orb.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl', '/usr/bin/aws']);

const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const ECR_PASSWORD = 'ecr-refresh-canary-7f3a21';
const LIFETIME = 8;
const AWS_CLI = '/usr/bin/aws';

describe.runIf(enabled)('refresh: docker-credential-regauth keeps ECR logins valid for the whole job', () => {
  let orb: Orb;
  let stack: EcrStack;
  let aws: LocalAws;
  let registry: Registry;
  let registryB: Registry;
  let image: SeededImage;
  let imageB: SeededImage;
  let cli: FakeCircleci;

  beforeAll(async () => {
    orb = loadOrb();
    stack = await startEcrStack({ password: ECR_PASSWORD, accounts: [ACCOUNT, ACCOUNT_B], lifetimeSeconds: LIFETIME });
    ({ aws, agent: cli } = stack);
    [registry, registryB] = stack.registries as [Registry, Registry];
    [image, imageB] = stack.images as [SeededImage, SeededImage];
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  /** A job like a cimg image's: ~/bin on PATH (missing until regauth creates it), the fake circleci CLI. */
  const job = (): Promise<JobContext> => stack.job();

  const login = (context: JobContext, params: Record<string, ParameterValue> = {}) =>
    runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: `${ACCOUNT},${ACCOUNT_B}`, ...params }, context);

  const exchanges = () => ({
    mint: aws.log.filter((e) => e.service === 'issuer' && e.action === 'mint').length,
    sts: aws.count('sts', 'AssumeRoleWithWebIdentity'),
    ecr: aws.count('ecr', 'GetAuthorizationToken'),
  });

  const shStep = runShStep;

  const cacheFile = (context: JobContext, host: string) => join(context.cwd, '.regauth', 'helper', 'cache', host);
  const expiryOf = (context: JobContext, host: string) => Number(readFileSync(cacheFile(context, host), 'utf8').split('\n')[2]);
  const refreshAtOf = (context: JobContext, host: string) => Number(readFileSync(cacheFile(context, host), 'utf8').split('\n')[0]);

  const until = untilEpoch;

  function config(context: JobContext): { auths?: Record<string, unknown>; credHelpers?: Record<string, string> } {
    return JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as { auths?: Record<string, unknown>; credHelpers?: Record<string, string> };
  }

  it('serves the registries from its cache, then refreshes once per group after everything expired, for bash and /bin/sh steps', async () => {
    const context = await job();
    aws.resetCounters();
    const result = await login(context);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(new RegExp(`regauth: logged in to ${registry.host.replaceAll('.', '\\.')} as ${ROLE}, valid until \\d\\d:\\d\\d:\\d\\d UTC, renews itself\\n`));
    expect(result.stdout).toContain(`regauth: credential helper: installed ${context.cwd}/bin/docker-credential-regauth\n`);
    // Two registries with refresh on: the header, one line each, the helper's line (and here one
    // more: this test's job token lives 8 s, so the login says it minted a fresh one).
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines.filter((line) => line.startsWith('regauth: logged in to '))).toHaveLength(2);
    expect(lines.length).toBeLessThanOrEqual(5);
    const docker = config(context);
    expect(docker.credHelpers).toEqual({ [registry.host]: 'regauth', [registryB.host]: 'regauth' });
    expect(JSON.stringify(docker)).not.toContain(Buffer.from(`AWS:${ECR_PASSWORD}`).toString('base64'));
    expect(lstatSync(cacheFile(context, registry.host)).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(context.cwd, '.regauth', 'helper')).mode & 0o777).toBe(0o700);
    // The job token (minted for seconds) was re-minted at login already; count from here.
    const base = exchanges();
    expect([base.sts, base.ecr]).toEqual([1, 1]);
    const more = (n: number) => ({ mint: base.mint + n, sts: base.sts + n, ecr: base.ecr + n });

    // A cached get within the lifetime: no request at all, and no node started.
    const cached = await shStep(context, `printf %s "$HOST" | docker-credential-regauth get`, { HOST: registry.host });
    expect(cached.exitCode, cached.stderr).toBe(0);
    expect(JSON.parse(cached.stdout)).toEqual({ ServerURL: registry.host, Username: 'AWS', Secret: ECR_PASSWORD });
    expect(exchanges()).toEqual(more(0));

    // Job token, STS keys and ECR password all expire.
    await until(expiryOf(context, registry.host));
    const sampler = startProcSampler();
    const pulled = await runUserStep(context, 'docker pull -q "$IMAGE" && docker pull -q "$IMAGE_B"', { IMAGE: image.ref, IMAGE_B: imageB.ref });
    const seen = await sampler.stop();
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    // One more exchange for the group (two registries), not one per registry or per pull.
    expect(exchanges()).toEqual(more(1));
    expect(cli.calls()).toContain(`run oidc get --claims {"aud":"${aws.orgId}"}`);
    for (const line of seen.cmdlines) expect(line).not.toContain(ECR_PASSWORD);

    await runUserStep(context, 'docker rmi -f "$IMAGE" "$IMAGE_B" >/dev/null', { IMAGE: image.ref, IMAGE_B: imageB.ref });
    await until(refreshAtOf(context, registry.host));
    // This step lacks the AWS endpoint settings the login had: the recipe carries them.
    const viaSh = await shStep(context, 'docker pull -q "$IMAGE" && docker pull -q "$IMAGE_B"', { IMAGE: image.ref, IMAGE_B: imageB.ref }, Object.keys(aws.endpointEnv()));
    expect(viaSh.exitCode, viaSh.stderr).toBe(0);
    expect(exchanges()).toEqual(more(2));

    const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
    for (const text of [bashEnv, result.stdout, pulled.stdout, pulled.stderr, viaSh.stdout, viaSh.stderr]) expect(text).not.toContain(ECR_PASSWORD);
  }, 60_000);

  it('exports an AWS profile whose credential_process the AWS CLI v2 calls again after the first keys expired', async () => {
    const context = await job();
    const result = await login(context, { export_credentials: true });
    expect(result.exitCode, result.stderr).toBe(0);
    const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
    expect(bashEnv).toContain("export AWS_PROFILE='regauth'\n");
    expect(readFileSync(join(context.cwd, '.aws', 'config'), 'utf8')).toMatch(/^\[profile regauth\]\n[^\n]*\nregion = us-east-1\ncredential_process = \S+docker-credential-regauth aws-credentials aws-ecr-[0-9a-f]{12}\n$/);
    expect(bashEnv).not.toMatch(/AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|aws_secret/);
    const callEcr = () => runUserStep(context, `${AWS_CLI} ecr get-authorization-token --endpoint-url "$ECR_URL" --region us-east-1 --query "authorizationData[0].proxyEndpoint" --output text`, { ECR_URL: aws.urls.ecr });
    const first = await callEcr();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe(registry.url);
    const stsBefore = aws.count('sts', 'AssumeRoleWithWebIdentity');
    const awsEntry = readdirSync(join(context.cwd, '.regauth', 'helper', 'cache')).find((name) => name.startsWith('aws@')) ?? '';
    await until(expiryOf(context, awsEntry));
    const later = await callEcr();
    expect(later.exitCode, later.stderr).toBe(0);
    expect(later.stdout.trim()).toBe(registry.url);
    expect(aws.count('sts', 'AssumeRoleWithWebIdentity')).toBe(stsBefore + 1);
    // The ECR call was signed with the fresh keys: the local ECR refuses expired ones.
    expect(aws.log.filter((e) => e.service === 'ecr').at(-1)?.status).toBe(200);
  }, 60_000);

  it('refreshes once for many concurrent gets, never corrupting the cache', async () => {
    const context = await job();
    expect((await login(context)).exitCode).toBe(0);
    await until(refreshAtOf(context, registry.host));
    const before = exchanges();
    const gets = await Promise.all(
      Array.from({ length: 8 }, (_, i) => shStep(context, `printf %s "$HOST" | docker-credential-regauth get`, { HOST: i % 2 === 0 ? registry.host : registryB.host })),
    );
    for (const get of gets) {
      expect(get.exitCode, get.stderr + get.stdout).toBe(0);
      expect((JSON.parse(get.stdout) as { Secret: string }).Secret).toBe(ECR_PASSWORD);
    }
    expect(exchanges()).toEqual({ mint: before.mint + 1, sts: before.sts + 1, ecr: before.ecr + 1 });
    for (const host of [registry.host, registryB.host]) {
      const lines = readFileSync(cacheFile(context, host), 'utf8').split('\n');
      expect(lines).toHaveLength(4);
      expect(JSON.parse(lines[1] ?? '')).toMatchObject({ ServerURL: host, Username: 'AWS' });
    }
  }, 60_000);

  it('a refresh killed half way leaves the cache as it was, and the next get takes over its lock', async () => {
    const context = await job();
    expect((await login(context)).exitCode).toBe(0);
    const before = readFileSync(cacheFile(context, registry.host), 'utf8');
    await until(refreshAtOf(context, registry.host));
    aws.failNext('sts', 1, 'hang');
    const stsSeen = aws.count('sts');
    const child = spawn('/bin/sh', ['-c', 'printf %s "$HOST" | exec docker-credential-regauth get'], { env: { ...context.env, HOST: registry.host }, stdio: 'ignore' });
    while (aws.count('sts') === stsSeen) await new Promise((resolve) => setTimeout(resolve, 20));
    // The refresh is inside STS now: kill the whole helper (node included).
    const lock = readdirSync(join(context.cwd, '.regauth', 'helper', 'locks'));
    expect(lock).toHaveLength(1);
    const pid = Number(readFileSync(join(context.cwd, '.regauth', 'helper', 'locks', lock[0] ?? ''), 'utf8').split(' ')[0]);
    process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    expect(readFileSync(cacheFile(context, registry.host), 'utf8')).toBe(before);
    // Still within its lifetime, the entry is served; past refreshAt the next get refreshes.
    const next = await shStep(context, `printf %s "$HOST" | docker-credential-regauth get`, { HOST: registry.host });
    expect(next.exitCode, next.stderr).toBe(0);
    expect((JSON.parse(next.stdout) as { Secret: string }).Secret).toBe(ECR_PASSWORD);
    expect(next.stderr).toBe('');
    expect(readFileSync(cacheFile(context, registry.host), 'utf8')).not.toBe(before);
  }, 60_000);

  it('a failing refresh answers with what is still valid, and otherwise gives docker one clear line', async () => {
    const context = await job();
    expect((await login(context)).exitCode).toBe(0);
    await until(refreshAtOf(context, registry.host));
    // No circleci CLI (an SSH rerun, a step that changed PATH): the cached password is still valid.
    const noCli = { PATH: (context.env.PATH ?? '').split(':').filter((dir) => dir !== cli.dir).join(':'), HOST: registry.host };
    const stale = await shStep(context, 'printf %s "$HOST" | docker-credential-regauth get', noCli);
    expect(stale.exitCode, stale.stdout + stale.stderr).toBe(0);
    expect((JSON.parse(stale.stdout) as { Secret: string }).Secret).toBe(ECR_PASSWORD);
    expect(stale.stderr).toMatch(/^regauth: could not refresh the credentials for the registry [^\n]+ \(could not mint an OIDC token with aud "[^"]+": neither circleci-agent nor circleci is on PATH\); answering with the cached ones, valid until [^\n]+\n$/);

    // The role's trust changed, and the cached password has expired: docker shows the line.
    await until(expiryOf(context, registry.host));
    aws.setRole(ROLE, { subPattern: 'org/nobody/*', accounts: [ACCOUNT, ACCOUNT_B] });
    try {
      const pulled = await runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
      expect(pulled.exitCode).not.toBe(0);
      const line = pulled.stderr.split('\n').find((l) => l.startsWith('regauth: could not refresh')) ?? '';
      expect(line).toMatch(/^regauth: could not refresh the credentials for the registry \S+ \(sts:AssumeRoleWithWebIdentity[^\n]*AccessDenied[^\n]*\), and the cached ones have expired; run regauth's login step again in this job$/);
      expect(pulled.stderr).not.toContain(ECR_PASSWORD);
    } finally {
      aws.setRole(ROLE, { subPattern: 'org/*', accounts: [ACCOUNT, ACCOUNT_B] });
    }
  }, 60_000);

  it('logout gives back the user\'s own helper entry and leaves nothing of the helper behind', async () => {
    const context = await job();
    mkdirSync(context.env.DOCKER_CONFIG ?? '', { recursive: true, mode: 0o700 });
    writeFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), JSON.stringify({ credHelpers: { [registry.host]: 'ecr-login' } }));
    expect((await login(context, { export_credentials: true })).exitCode).toBe(0);
    expect(config(context).credHelpers?.[registry.host]).toBe('regauth');
    const out = await runOrbCommand(orb, 'logout', {}, context);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(config(context).credHelpers).toEqual({ [registry.host]: 'ecr-login' });
    expect(existsSync(join(context.cwd, '.regauth', 'helper'))).toBe(false);
    expect(existsSync(join(context.cwd, 'bin', 'docker-credential-regauth'))).toBe(false);
    const after = await runUserStep(context, `${JOBS_HELPER_ON_PATH}; ` + 'echo "profile=${AWS_PROFILE-unset} config=${AWS_CONFIG_FILE-unset}"');
    expect(after.stdout).toBe('none\nprofile=unset config=unset\n');
  }, 60_000);

  it('a local engine judges the login without the docker CLI; a docker context takes docker login; both leave the same config', async () => {
    const direct = await job();
    const viaContext = await job();
    // A context naming the same engine: docker resolves it, so regauth must leave it to docker login.
    const made = await runUserStep(viaContext, 'docker context create regauth-e2e --docker "host=$DOCKER_HOST" >/dev/null');
    expect(made.exitCode, made.stderr).toBe(0);
    viaContext.env.DOCKER_CONTEXT = 'regauth-e2e';
    const debug = { REGAUTH_DEBUG: '1' };
    const first = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: `${ACCOUNT},${ACCOUNT_B}` }, direct, { extraEnv: debug });
    const second = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: `${ACCOUNT},${ACCOUNT_B}` }, viaContext, { extraEnv: debug });
    expect([first.exitCode, second.exitCode], first.stderr + second.stderr).toEqual([0, 0]);
    for (const host of [registry.host, registryB.host]) {
      expect(first.stdout).toContain(`regauth: the engine accepted the login to ${host} (docker-credential-regauth holds it, so no docker login)\n`);
      expect(second.stdout).toContain(`regauth: docker login to ${host}: the engine gave no verdict without it (the engine is not a local socket)\n`);
    }
    // What docker login leaves beside a helper's login (an empty auths entry per host), either way.
    const settled = (context: JobContext) => {
      const { auths, credHelpers } = config(context);
      return { auths, credHelpers };
    };
    expect(settled(direct)).toEqual({ auths: { [registry.host]: {}, [registryB.host]: {} }, credHelpers: { [registry.host]: 'regauth', [registryB.host]: 'regauth' } });
    expect(settled(viaContext)).toEqual(settled(direct));
    for (const context of [direct, viaContext]) {
      const pulled = await runUserStep(context, 'docker pull -q "$IMAGE" >/dev/null && docker rmi -f "$IMAGE" >/dev/null', { IMAGE: image.ref });
      expect(pulled.exitCode, pulled.stderr).toBe(0);
    }
    for (const text of [first.stdout, first.stderr, second.stdout, second.stderr]) expect(text).not.toContain(ECR_PASSWORD);
  }, 60_000);

  it('a login STS refuses leaves nothing behind: the helper directory begun while STS answered goes again', async () => {
    const context = await job();
    const result = await login(context, { role_arn: `arn:aws:iam::${ACCOUNT}:role/not-trusted` });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: /);
    // Begun at once (refresh on), then taken back: no directory, no program, no record for logout.
    expect(existsSync(join(context.cwd, '.regauth', 'helper'))).toBe(false);
    expect(existsSync(join(context.cwd, '.regauth', 'journal'))).toBe(false);
    expect(existsSync(join(context.cwd, 'bin', 'docker-credential-regauth'))).toBe(false);
    expect(existsSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'))).toBe(false);
  }, 60_000);

  it('a password the registry refuses fails the login step at once, as with refresh: false', async () => {
    const refusing = await startRegistry({ auth: 'htpasswd', users: { AWS: 'another-password-9d2e' } });
    try {
      aws.setProxyEndpoint('333333333333', refusing.url);
      aws.setRole(ROLE, { subPattern: 'org/*', accounts: [ACCOUNT, ACCOUNT_B, '333333333333'] });
      const context = await job();
      const result = await login(context, { account_ids: '333333333333' });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(new RegExp(`^regauth: ecr-oidc-login: could not log in to ${refusing.host.replaceAll('.', '\\.')} as AWS: [^\n]+\n$`));
      expect(result.stderr).not.toContain(ECR_PASSWORD);
    } finally {
      aws.setRole(ROLE, { subPattern: 'org/*', accounts: [ACCOUNT, ACCOUNT_B] });
      await refusing.stop();
    }
  }, 60_000);
});
