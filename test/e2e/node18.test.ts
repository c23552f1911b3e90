import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { fakeCircleci, type FakeCircleci } from '../../testbed/fake-circleci.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, untilEpoch, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { makeTempDir } from '../../testbed/tempdir.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * The core cases under a real node 18 (issue 24: machine images up to 2023.10 ship node 16 or 18):
 * Debian 12's nodejs 18, unpacked by scripts/node18.sh into .cache/node18 and run in a private
 * mount namespace (it reads undici, acorn and cjs-module-lexer from /usr/share/nodejs), so the
 * system's node stays what it is. The job's `node` is a wrapper that enters that namespace; the
 * login records node 18's own binary for docker-credential-regauth, which docker starts from the
 * user's step: those steps run inside the namespace too, as on a machine whose node 18 is
 * installed at the system's paths (Debian's node 18 aborts at startup without /usr/share/nodejs).
 */
const repo = resolve(import.meta.dirname, '..', '..');
const node18Root = join(repo, '.cache', 'node18', 'root');
const node18 = join(node18Root, 'usr', 'bin', 'node');
const haveNode18 = existsSync(node18) && process.getuid?.() === 0;
if (!haveNode18 && process.env.CI === 'true') {
  throw new Error(`node 18 is missing (${node18}) or this is not root: run scripts/node18.sh fetch as root (scripts/install-system-packages.sh does)`);
}
const enabled = haveNode18 && requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl', 'unshare']);

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const PASSWORD = 'node18-canary-3e8a';
const LIFETIME = 8;
const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const SEEDER = { username: 'seeder', password: 'seeder-pw-node18' };

describe.runIf(enabled)('node 18: the core cases through the packed orb', () => {
  let orb: Orb;
  let engine: Engine;
  let registry: Registry;
  let garRegistry: Registry;
  let image: SeededImage;
  let garImage: SeededImage;
  let aws: LocalAws;
  let google: LocalGoogle;
  let agent: FakeCircleci;
  const nodeDir = makeTempDir('regauth-node18-bin-').path;

  beforeAll(async () => {
    orb = loadOrb();
    writeFileSync(join(nodeDir, 'node'), `#!/bin/bash\nexec '${join(repo, 'scripts', 'node18.sh')}' exec '${node18}' "$@"\n`, { mode: 0o755 });
    aws = await startLocalAws({
      roles: { [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT] } },
      ecrPassword: PASSWORD,
      lifetimes: { jobTokenSeconds: LIFETIME, stsSeconds: LIFETIME, ecrSeconds: LIFETIME },
    });
    google = await startLocalGoogle({ issuer: aws.issuer, orgId: aws.orgId, attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    const hooks = google.registryAuth([`serviceAccount:${SA}`]);
    [engine, registry, garRegistry] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'htpasswd', tls: false, users: { AWS: PASSWORD } }),
      startRegistry({
        auth: 'token',
        users: { [SEEDER.username]: SEEDER.password },
        token: { authenticate: hooks.authenticate, authorize: (user: string, scope: { type: string; name: string; actions: string[] }) => (user === SEEDER.username ? scope.actions : hooks.authorize(user, scope)) },
      }),
    ]);
    aws.setProxyEndpoint(ACCOUNT, registry.url);
    [image, garImage] = await Promise.all([
      seedImage(registry, { name: 'app/api', tag: '1.0', as: { username: 'AWS', password: PASSWORD } }),
      seedImage(garRegistry, { name: 'acme-project/images/api', tag: '2.0', as: SEEDER }),
    ]);
    agent = fakeCircleci(aws.mintUrl, process.execPath, 'circleci-agent');
  }, 180_000);

  afterAll(async () => {
    await Promise.all([aws?.stop(), google?.stop(), engine?.stop(), registry?.stop(), garRegistry?.stop()]);
  });

  async function job(): Promise<JobContext> {
    const context = newJob({
      ...aws.endpointEnv(),
      ...google.endpointEnv(),
      CIRCLE_OIDC_TOKEN_V2: await aws.mintToken({ expiresInSeconds: LIFETIME }),
      AWS_DEFAULT_REGION: 'us-east-1',
      GCP_WORKLOAD_IDENTITY_PROVIDER: google.providerName,
      GCP_SERVICE_ACCOUNT: SA,
      DOCKER_HOST: engine.dockerHost,
    });
    context.env.PATH = `${nodeDir}:${agent.dir}:${context.cwd}/bin:${context.env.PATH ?? ''}`;
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }
  /** A user's step, in the namespace where node 18's files are at their system paths. */
  const userStep = (context: JobContext, command: string, env: Record<string, string>) => runUserStep(context, `'${join(repo, 'scripts', 'node18.sh')}' exec /bin/bash -c '${command}'`, env);
  const pullQuietly = (context: JobContext, ref: string) => userStep(context, 'docker pull -q "$IMAGE"', { IMAGE: ref });
  const removeImage = (context: JobContext, ref: string) => runUserStep(context, 'docker rmi -f "$IMAGE" >/dev/null 2>&1 || true', { IMAGE: ref });

  it("the job's node is Debian's node 18", async () => {
    const version = await runUserStep(await job(), 'node --version && ! /usr/bin/node --version | grep -q "^v18"');
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout.trim()).toMatch(/^v18\./);
  });

  it('login, pull with progress, logout', async () => {
    const context = await job();
    const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, { ...context, env: { ...context.env, REG_USER: 'AWS', REG_PASS: PASSWORD } });
    expect(login.exitCode, login.stderr).toBe(0);
    expect(login.stdout).toContain(`regauth: logged in to ${registry.host} as AWS`);
    const pulled = await runOrbCommand(orb, 'pull', { images: image.ref }, context);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(pulled.stdout).toContain(`✔ ${image.ref} ${image.digest.slice(0, 19)}…`);
    const logout = await runOrbCommand(orb, 'logout', {}, context);
    expect(logout.exitCode, logout.stderr).toBe(0);
    await removeImage(context, image.ref);
    expect((await pullQuietly(context, image.ref)).exitCode).not.toBe(0);
  }, 90_000);

  it('ecr-oidc-login with refresh: the helper runs node 18 and renews after expiry', async () => {
    const context = await job();
    const login = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: ACCOUNT }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    expect(readFileSync(join(context.cwd, '.regauth', 'helper', 'node'), 'utf8').trim()).toBe(node18);
    const cache = join(context.cwd, '.regauth', 'helper', 'cache', registry.host);
    await untilEpoch(Number(readFileSync(cache, 'utf8').split('\n')[2]));
    const mints = agent.calls().length;
    await removeImage(context, image.ref);
    const pulled = await pullQuietly(context, image.ref);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(agent.calls().slice(mints)).toEqual([`run oidc get --claims {"aud":"${aws.orgId}"}`]);
    const logout = await runOrbCommand(orb, 'logout', {}, context);
    expect(logout.exitCode, logout.stderr).toBe(0);
  }, 90_000);

  it('gcp-oidc-login: impersonates the service account and docker pull works', async () => {
    const context = await job();
    context.env.CIRCLE_OIDC_TOKEN_V2 = await aws.mintToken({ expiresInSeconds: 600 });
    const login = await runOrbCommand(orb, 'gcp-oidc-login', { registries: garRegistry.host, refresh: false }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    expect(login.stdout).toContain(`regauth: logged in to ${garRegistry.host} as ${SA}, valid until `);
    const pulled = await pullQuietly(context, garImage.ref);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
  }, 90_000);
});
