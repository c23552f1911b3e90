import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { issueDockerTls, type DockerTls } from '../support/docker-tls.ts';
import { imagesIn, startEngine, type Engine } from '../../testbed/engine.ts';
import { fakeCircleci, type FakeCircleci } from '../../testbed/fake-circleci.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { freePort } from '../../testbed/ports.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, untilEpoch, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * Remote docker, as setup_remote_docker's engines were reached (issue 24): a real dockerd listening
 * on 127.0.0.1 over TCP with TLS client verification, the job's docker CLI reaching it through
 * DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, and separately through a docker context.
 * The job has no unix socket to any engine. The credentials and docker-credential-regauth live on
 * the client side (the job's HOME and DOCKER_CONFIG); the engine only receives them per pull.
 * The CircleCI job agent is a FAKE (it cannot run outside CircleCI), minting at the local issuer.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const ECR_PASSWORD = 'remote-docker-canary-0b7e';
const LIFETIME = 8;

describe.runIf(enabled)('remote docker: an engine over TCP with TLS client verification', () => {
  let orb: Orb;
  let tls: DockerTls;
  let engine: Engine;
  let port: number;
  let registry: Registry;
  let image: SeededImage;
  let aws: LocalAws;
  let agent: FakeCircleci;

  beforeAll(async () => {
    orb = loadOrb();
    tls = await issueDockerTls();
    port = await freePort();
    [engine, registry] = await Promise.all([
      startEngine({ extraArgs: tls.daemonArgs(port) }),
      startRegistry({ auth: 'htpasswd', tls: false, users: { AWS: ECR_PASSWORD } }),
    ]);
    image = await seedImage(registry, { name: 'app/api', tag: '1.0', as: { username: 'AWS', password: ECR_PASSWORD } });
    aws = await startLocalAws({
      roles: { [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT] } },
      ecrPassword: ECR_PASSWORD,
      proxyEndpoints: { [ACCOUNT]: registry.url },
      lifetimes: { jobTokenSeconds: LIFETIME, stsSeconds: LIFETIME, ecrSeconds: LIFETIME },
    });
    agent = fakeCircleci(aws.mintUrl, process.execPath, 'circleci-agent');
  }, 120_000);

  afterAll(async () => {
    await Promise.all([aws?.stop(), engine?.stop(), registry?.stop()]);
    await tls?.remove();
  });

  /** A job whose docker CLI reaches the engine only over TCP+TLS: by variables, or by a docker context. */
  async function job(via: 'variables' | 'context'): Promise<JobContext> {
    const context = newJob({ ...aws.endpointEnv(), CIRCLE_OIDC_TOKEN_V2: await aws.mintToken({ expiresInSeconds: LIFETIME }), AWS_DEFAULT_REGION: 'us-east-1' });
    context.env.PATH = `${agent.dir}:${context.cwd}/bin:${context.env.PATH ?? ''}`;
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    mkdirSync(context.env.DOCKER_CONFIG, { mode: 0o700 });
    if (via === 'variables') {
      Object.assign(context.env, { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tls.clientDir });
    } else {
      const made = await runUserStep(
        context,
        'docker context create remote --docker "host=tcp://127.0.0.1:$PORT,ca=$CERTS/ca.pem,cert=$CERTS/cert.pem,key=$CERTS/key.pem" >/dev/null && docker context use remote >/dev/null',
        { PORT: String(port), CERTS: tls.clientDir },
      );
      expect(made.exitCode, made.stderr).toBe(0);
    }
    const version = await runUserStep(context, 'docker version --format "{{.Server.Version}}"');
    expect(version.exitCode, version.stderr).toBe(0);
    return context;
  }

  const pullQuietly = (context: JobContext) => runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
  const removeImage = (context: JobContext) => runUserStep(context, 'docker rmi -f "$IMAGE" >/dev/null 2>&1 || true', { IMAGE: image.ref });
  const config = (context: JobContext) => JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as Record<string, unknown>;

  it('the engine refuses a client without the client certificate (TLS client verification is on)', async () => {
    const context = newJob({ DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(tls.clientDir, 'nowhere') });
    const refused = await runUserStep(context, 'docker version --format "{{.Server.Version}}"');
    expect(refused.exitCode).not.toBe(0);
  });

  for (const via of ['variables', 'context'] as const) {
    describe(`through ${via === 'variables' ? 'DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH' : 'a docker context'}`, () => {
      it('login, then pull with progress through regauth/pull, then logout', async () => {
        const context = await job(via);
        await removeImage(context);
        expect((await pullQuietly(context)).exitCode).not.toBe(0);

        const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, { ...context, env: { ...context.env, REG_USER: 'AWS', REG_PASS: ECR_PASSWORD } });
        expect(login.exitCode, login.stderr).toBe(0);
        expect(login.stdout).toContain(`regauth: logged in to ${registry.host} as AWS`);

        const pulled = await runOrbCommand(orb, 'pull', { images: image.ref }, context);
        expect(pulled.exitCode, pulled.stderr).toBe(0);
        expect(pulled.stdout).toMatch(new RegExp(`^✔ ${image.ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ${image.digest.slice(0, 19)}… \\d+\\.\\d s, 1 attempt$`, 'm'));
        expect((await imagesIn(engine)).flatMap((i) => i.repoDigests)).toContain(`${registry.host}/app/api@${image.digest}`);
        if (via === 'context') expect(config(context).currentContext).toBe('remote');

        const logout = await runOrbCommand(orb, 'logout', {}, context);
        expect(logout.exitCode, logout.stderr).toBe(0);
        await removeImage(context);
        expect((await pullQuietly(context)).exitCode).not.toBe(0);
        if (via === 'context') expect(config(context).currentContext).toBe('remote');
      }, 90_000);

      it('ecr-oidc-login with refresh: the helper answers from the client side and renews after expiry; logout removes it', async () => {
        const context = await job(via);
        await removeImage(context);
        const login = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: ACCOUNT }, context);
        expect(login.exitCode, login.stderr).toBe(0);
        expect(login.stdout).toContain(`regauth: logged in to ${registry.host} as ${ROLE}, valid until `);
        expect(login.stdout).toContain(', renews itself');
        expect(config(context).credHelpers).toEqual({ [registry.host]: 'regauth' });
        const cache = join(context.cwd, '.regauth', 'helper', 'cache', registry.host);
        await untilEpoch(Number(readFileSync(cache, 'utf8').split('\n')[2]));

        const mints = agent.calls().length;
        const pulled = await pullQuietly(context);
        expect(pulled.exitCode, pulled.stderr).toBe(0);
        // The refresh ran in the job (client side): the job's agent minted, the job's cache was renewed.
        expect(agent.calls().slice(mints)).toEqual([`run oidc get --claims {"aud":"${aws.orgId}"}`]);
        expect(Number(readFileSync(cache, 'utf8').split('\n')[2])).toBeGreaterThan(Date.now() / 1000);
        expect(readFileSync(engine.logFile, 'utf8')).not.toContain(ECR_PASSWORD);

        const logout = await runOrbCommand(orb, 'logout', {}, context);
        expect(logout.exitCode, logout.stderr).toBe(0);
        expect(config(context).credHelpers ?? {}).toEqual({});
        await removeImage(context);
        expect((await pullQuietly(context)).exitCode).not.toBe(0);
      }, 90_000);
    });
  }
});
