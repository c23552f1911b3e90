import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SYSTEM_ROOT_OVERRIDE } from '../../src/core/places.ts';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startMachineNamespace, type MachineNamespace, type NamespaceUser } from '../support/machine-namespace.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * The real system routes of docker-credential-regauth, with no test override: root installs into
 * /usr/local/bin itself, another user through `sudo -n`, and the one program is shared by every
 * job on the machine whatever its user (issue 25, item 9). Each test runs in a private mount
 * namespace (test/support/machine-namespace.ts): /usr/local/bin and /tmp there are the
 * namespace's own, so the machine is untouched (the global setup checks it).
 */
const isRoot = process.getuid?.() === 0;
const enabled = isRoot && requireTools(['unshare', 'nsenter', 'setpriv', 'sudo', 'docker', 'docker-registry', 'htpasswd', 'openssl']);

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const ECR_PASSWORD = 'ecr-system-route-canary-41c9';
// Every path below is seen only inside the private mount namespace (overlay /usr/local/bin, own /tmp).
const PROGRAM = '/usr/local/bin/docker-credential-regauth'; // in the namespace
const USER: NamespaceUser = { name: 'regauth-ci', uid: 4242, sudo: true };
// No ~/bin: root gets /usr/local/bin itself, the user gets it through sudo.
const MACHINE_PATH = '/usr/local/bin:/usr/bin:/bin'; // the namespace's PATH
const marksOf = (uid: number): string => `/tmp/regauth-helper-users-${uid}`; // the namespace's /tmp

describe.runIf(enabled)('the shared system helper: /usr/local/bin for root and through sudo -n, in a private mount namespace', () => {
  let orb: Orb;
  let aws: LocalAws;
  let registry: Registry;

  beforeAll(async () => {
    orb = loadOrb();
    registry = await startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PASSWORD } });
    aws = await startLocalAws({ roles: { [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT] } }, ecrPassword: ECR_PASSWORD, proxyEndpoints: { [ACCOUNT]: registry.url } });
  });

  afterAll(async () => {
    await Promise.all([aws?.stop(), registry?.stop()]);
  });

  interface MachineJob {
    context: JobContext;
    user?: NamespaceUser;
  }

  /** A job on the machine itself: the override the step runner sets is taken away. */
  async function machineJob(user?: NamespaceUser): Promise<MachineJob> {
    const context = newJob({ ...aws.endpointEnv(), CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(), AWS_DEFAULT_REGION: 'us-east-1', DOCKER_HOST: 'unix:///tmp/regauth-no-daemon.sock' });
    delete context.env[SYSTEM_ROOT_OVERRIDE];
    context.env.PATH = MACHINE_PATH;
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    if (user) execFileSync('chown', ['-R', `${user.uid}:${user.uid}`, context.cwd]);
    return { context, ...(user ? { user } : {}) };
  }

  async function machine(jobs: readonly MachineJob[]): Promise<MachineNamespace> {
    const ns = await startMachineNamespace(
      jobs.map((job) => job.context.cwd),
      jobs.flatMap((job) => (job.user ? [job.user] : [])),
    );
    onTestFinished(() => ns.stop());
    return ns;
  }

  const step = (ns: MachineNamespace, job: MachineJob, command: 'ecr-oidc-login' | 'logout') =>
    runOrbCommand(orb, command, command === 'logout' ? {} : { role_arn: ROLE }, job.context, { wrap: ns.wrap(job.context.cwd, job.user) });

  /** What docker gets from the helper in a later step of `job`. */
  async function get(ns: MachineNamespace, job: MachineJob): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    return runUserStep(job.context, 'printf %s "$HOST" | docker-credential-regauth get', { HOST: registry.host }, ns.wrap(job.context.cwd, job.user));
  }

  const installed = async (ns: MachineNamespace): Promise<boolean> => (await ns.sh(`test -f ${PROGRAM}`)).exitCode === 0;

  it('root installs the helper into /usr/local/bin itself, docker finds it in a later step, and logout removes program and mark', async () => {
    const root = await machineJob();
    const ns = await machine([root]);
    const login = await step(ns, root, 'ecr-oidc-login');
    expect(login.exitCode, login.stderr).toBe(0);
    expect(login.stdout.split('\n')).toContain(`regauth: credential helper: installed ${PROGRAM}`);
    expect((await ns.sh(`head -2 ${PROGRAM}`)).stdout).toContain('# regauth credential helper');
    expect((await ns.sh(`ls ${marksOf(0)}`)).stdout.trim().split('\n')).toHaveLength(1);
    const answer = await get(ns, root);
    expect(answer.exitCode, answer.stderr).toBe(0);
    expect(JSON.parse(answer.stdout)).toEqual({ ServerURL: registry.host, Username: 'AWS', Secret: ECR_PASSWORD });

    const logout = await step(ns, root, 'logout');
    expect(logout.exitCode, logout.stderr).toBe(0);
    expect(await installed(ns)).toBe(false);
    expect((await ns.sh(`ls -A ${marksOf(0)}`)).stdout).toBe('');
  });

  it('a user who installed it through sudo -n logs out: the program stays while a root job uses it; the last logout removes it', async () => {
    const root = await machineJob();
    const other = await machineJob(USER);
    const ns = await machine([root, other]);
    const rootLogin = await step(ns, root, 'ecr-oidc-login');
    expect(rootLogin.exitCode, rootLogin.stderr).toBe(0);
    const userLogin = await step(ns, other, 'ecr-oidc-login');
    expect(userLogin.exitCode, userLogin.stderr).toBe(0);
    expect(userLogin.stdout.split('\n')).toContain(`regauth: credential helper: installed ${PROGRAM}`);
    // Through sudo: the user's own mark, the program still root's.
    expect((await ns.sh(`ls ${marksOf(USER.uid)} && stat -c %U ${PROGRAM}`)).stdout.trim().split('\n')).toHaveLength(2);
    expect((await ns.sh(`stat -c %u ${PROGRAM}`)).stdout.trim()).toBe('0');

    const userLogout = await step(ns, other, 'logout');
    expect(userLogout.exitCode, userLogout.stderr).toBe(0);
    expect(await installed(ns)).toBe(true);
    const stillServed = await get(ns, root);
    expect(stillServed.exitCode, stillServed.stderr).toBe(0);
    expect(JSON.parse(stillServed.stdout)).toMatchObject({ Username: 'AWS', Secret: ECR_PASSWORD });

    const rootLogout = await step(ns, root, 'logout');
    expect(rootLogout.exitCode, rootLogout.stderr).toBe(0);
    expect(await installed(ns)).toBe(false);
  });

  it('root logs out first: the program stays for the other user\'s live job, whose own logout then removes it through sudo', async () => {
    const other = await machineJob(USER);
    const root = await machineJob();
    const ns = await machine([root, other]);
    expect((await step(ns, other, 'ecr-oidc-login')).exitCode).toBe(0);
    expect((await step(ns, root, 'ecr-oidc-login')).exitCode).toBe(0);

    const rootLogout = await step(ns, root, 'logout');
    expect(rootLogout.exitCode, rootLogout.stderr).toBe(0);
    expect(await installed(ns)).toBe(true);
    const stillServed = await get(ns, other);
    expect(stillServed.exitCode, stillServed.stderr).toBe(0);
    expect(JSON.parse(stillServed.stdout)).toMatchObject({ Username: 'AWS', Secret: ECR_PASSWORD });

    const userLogout = await step(ns, other, 'logout');
    expect(userLogout.exitCode, userLogout.stderr).toBe(0);
    expect(await installed(ns)).toBe(false);
  });
});
