import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { fakeCircleci, type FakeCircleci } from '../../testbed/fake-circleci.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { freePort } from '../../testbed/ports.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, type CommandResult, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * Golden output: what a user reads in the step log for each command's success and its most common
 * failures, through the packed dist/orb.yml against the local stack, compared with the reviewed
 * files in test/golden/<command>/<case>.txt after normalising what changes from run to run (hosts,
 * ports, times, digests, temp paths, ids). A change to any line users read shows up as a diff here
 * and in review. `UPDATE_GOLDEN=1` rewrites the files; `GOLDEN_FIGURES=<file>` appends each case's
 * raw line and character counts (the note's before/after figures).
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const GOLDEN_DIR = resolve(import.meta.dirname, '..', 'golden');
const ACCOUNT = '123456789012';
const UNREACHABLE_ACCOUNT = '333333333333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const RELEASE_ONLY_ROLE = `arn:aws:iam::${ACCOUNT}:role/release-only`;
const ECR_PASSWORD = 'golden-ecr-password-41c9';
const REG_PASSWORD = 'golden-registry-pw-9d2e';
const STATIC = { accessKeyId: 'AKIAREGAUTHGOLDEN001', secretAccessKey: 'golden+static/secret/key/aa11bb22cc33', account: ACCOUNT };
const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const UNBOUND_SA = 'other@acme-project.iam.gserviceaccount.com';
const SEEDER = { username: 'seeder', password: 'golden-seeder-pw-5e7a' };
const PROJECT_MAPPING = { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" };

/** Replaces what differs between runs by a stable placeholder (pure). */
export function normalise(text: string, names: ReadonlyArray<readonly [string, string]>): string {
  let out = text;
  for (const [value, name] of names) if (value) out = out.split(value).join(name);
  return out
    .replace(/sha256:[0-9a-f]{64}/g, 'sha256:<digest>')
    .replace(/sha256:[0-9a-f]{12}…/g, 'sha256:<digest>…')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<iso-time>')
    .replace(/\b\d\d:\d\d:\d\d UTC\b/g, 'HH:MM:SS UTC')
    .replace(/\b\d+(\.\d+)? s\b/g, 'N.N s')
    .replace(/(?<![\w.])\d+\.\d(?![\w.])/g, 'N.N')
    .replace(/\b\d+(\.\d+)? ?(B|kB|MB|GB)\b/g, '<size>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/\/tmp\/regauth-[\w.-]+/g, '/tmp/<tmp>')
    .replace(/^(regauth: regauth\/[\w-]+) \S+$/gm, '$1 <version>')
    // Table columns are as wide as the longest host, which the normalised names change.
    .replace(/^(?!regauth:).*$/gm, (line) => line.replace(/ {3,}/g, '  '));
}

/** Pulls finish in any order: the per-image lines are compared sorted (the table is in input order). */
function sortFinishLines(text: string): string {
  const lines = text.split('\n');
  const finished = lines.filter((line) => /^[✔✘] /.test(line)).sort();
  let next = 0;
  return lines.map((line) => (/^[✔✘] /.test(line) ? (finished[next++] ?? line) : line)).join('\n');
}

function render(result: CommandResult): string {
  return [`exit ${result.exitCode}`, '--- stdout', result.stdout.trimEnd(), '--- stderr', result.stderr.trimEnd(), ''].join('\n');
}

function figures(command: string, name: string, result: CommandResult): void {
  const file = process.env.GOLDEN_FIGURES;
  if (!file) return;
  const text = `${result.stdout}${result.stderr}`;
  const lines = text.split('\n').filter((line) => line.length > 0);
  const longest = Math.max(0, ...lines.map((line) => line.length));
  appendFileSync(file, `${command}\t${name}\texit=${result.exitCode}\tlines=${lines.length}\tchars=${text.length}\tlongest=${longest}\n`);
}

/** Compares the normalised output with test/golden/<command>/<name>.txt (or writes it under UPDATE_GOLDEN=1). */
function expectGolden(command: string, name: string, result: CommandResult, names: ReadonlyArray<readonly [string, string]>): void {
  figures(command, name, result);
  const actual = sortFinishLines(normalise(render(result), names));
  const file = join(GOLDEN_DIR, command, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    if (process.env.UPDATE_GOLDEN !== '1' && process.env.CI === 'true') throw new Error(`${file} was missing; written now, review and commit it`);
    return;
  }
  expect(actual, `${command}/${name}: the output users read changed; review the diff, then UPDATE_GOLDEN=1`).toBe(readFileSync(file, 'utf8'));
}

describe.runIf(enabled)('golden output of every command, through the packed orb', () => {
  let orb: Orb;
  let aws: LocalAws;
  let google: LocalGoogle;
  let engine: Engine;
  let registry: Registry;
  let gcr: Registry;
  let images: SeededImage[];
  let gcrImage: SeededImage;
  let cli: FakeCircleci;
  let closedPort: number;

  beforeAll(async () => {
    orb = loadOrb();
    aws = await startLocalAws({
      roles: { [ROLE]: { subPattern: 'org/*' }, [RELEASE_ONLY_ROLE]: { subPattern: 'org/*/vcs-ref/refs/heads/release' } },
      staticKeys: [STATIC],
      ecrPassword: ECR_PASSWORD,
    });
    google = await startLocalGoogle({ issuer: aws.issuer, attributeMapping: PROJECT_MAPPING, projectNumber: '987654321098' });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    google.setServiceAccount(UNBOUND_SA, { workloadIdentityUsers: [google.projectPrincipalSet('another-project')] });
    const hooks = google.registryAuth([`serviceAccount:${SA}`]);
    const token = {
      authenticate: hooks.authenticate,
      authorize: (user: string, scope: { type: string; name: string; actions: string[] }) => (user === SEEDER.username ? scope.actions : hooks.authorize(user, scope)),
    };
    [engine, registry, gcr] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PASSWORD, ci: REG_PASSWORD } }),
      startRegistry({ auth: 'token', users: { [SEEDER.username]: SEEDER.password }, token }),
    ]);
    aws.setProxyEndpoint(ACCOUNT, registry.url);
    const as = { username: 'ci', password: REG_PASSWORD };
    images = await Promise.all(['app/api', 'app/worker', 'app/web'].map((name) => seedImage(registry, { name, tag: 'v1', as, sizeBytes: 200_000 })));
    gcrImage = await seedImage(gcr, { name: 'acme-project/images/api', tag: 'v1', as: SEEDER });
    cli = fakeCircleci(aws.mintUrl);
    closedPort = await freePort();
  }, 180_000);

  afterAll(async () => {
    await Promise.all([aws?.stop(), google?.stop(), engine?.stop(), registry?.stop(), gcr?.stop()]);
  });

  async function job(extra: Record<string, string> = {}): Promise<JobContext> {
    const context = newJob({
      ...aws.endpointEnv(),
      ...google.endpointEnv(),
      CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(),
      AWS_DEFAULT_REGION: 'us-east-1',
      GCP_WORKLOAD_IDENTITY_PROVIDER: google.providerName,
      GCP_SERVICE_ACCOUNT: SA,
      DOCKER_HOST: engine.dockerHost,
      REG_USER: 'ci',
      REG_PASS: REG_PASSWORD,
      ...extra,
    });
    context.env.PATH = `${cli.dir}:${context.cwd}/bin:${context.env.PATH ?? ''}`;
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }

  function names(context: JobContext): Array<readonly [string, string]> {
    return [
      [context.cwd, '<job>'],
      [registry.host, '<registry>'],
      [gcr.host, '<gcr>'],
      [aws.issuer.url.replace(/^https?:\/\//, ''), '<issuer>'],
      [aws.orgId, '<org>'],
      [google.providerName, '<provider>'],
      [google.projectNumber, '<project-number>'],
      [`app-${context.env.CIRCLE_BUILD_NUM ?? ''}`, 'app-<build>'],
      [context.env.CIRCLE_BUILD_NUM ?? '', '<build>'],
      [engine.dockerHost, '<docker-host>'],
      [engine.socketPath, '<docker-socket>'],
    ];
  }

  async function golden(command: string, name: string, params: Record<string, ParameterValue>, context: JobContext, expectedExit: 'zero' | 'non-zero'): Promise<CommandResult> {
    const result = await runOrbCommand(orb, command, params, context);
    if (expectedExit === 'zero') expect(result.exitCode, `${result.stdout}${result.stderr}`).toBe(0);
    else expect(result.exitCode, result.stdout).not.toBe(0);
    // The style every command keeps: regauth's own lines are prefixed and, but for quoted remote
    // text, at most 160 characters (the closing failure line on stderr carries what, why and
    // what to do, and may be longer); a failure is at most five lines (pull's table aside).
    for (const line of result.stdout.split('\n').filter((text) => text.startsWith('regauth: '))) {
      expect(line.replace(/"(?:[^"\\]|\\.)*"/g, '""').length, line).toBeLessThanOrEqual(160);
    }
    for (const line of result.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^regauth: /);
    if (expectedExit === 'non-zero' && command !== 'pull') expect(`${result.stdout}${result.stderr}`.split('\n').filter(Boolean).length).toBeLessThanOrEqual(5);
    expectGolden(command, name, result, names(context));
    return result;
  }

  describe('login', () => {
    const params = (extra: Record<string, ParameterValue> = {}) => ({ registry: registry.host, username: 'REG_USER', password: 'REG_PASS', ...extra });
    it('success', async () => {
      await golden('login', 'success', params(), await job(), 'zero');
    });
    it('a wrong password', async () => {
      await golden('login', 'wrong-password', params(), await job({ REG_PASS: 'not-the-password' }), 'non-zero');
    });
    it('the password variable is not set', async () => {
      await golden('login', 'password-unset', params({ password: 'UNSET_PASSWORD_VARIABLE' }), await job(), 'non-zero');
    });
    it('nothing listens at the registry (named through ${VAR}, so shown as ${VAR})', async () => {
      await golden('login', 'unreachable', params({ registry: '${REG_HOST}' }), await job({ REG_HOST: `127.0.0.1:${closedPort}` }), 'non-zero');
    });
  });

  describe('ecr-oidc-login', () => {
    it('success, refresh on', async () => {
      await golden('ecr-oidc-login', 'success', { role_arn: ROLE }, await job(), 'zero');
    });
    it('success with REGAUTH_DEBUG=1: the claims, the role and the route too', async () => {
      await golden('ecr-oidc-login', 'success-debug', { role_arn: ROLE }, await job({ REGAUTH_DEBUG: '1' }), 'zero');
    });
    it('AccessDenied: the trust policy does not allow this sub', async () => {
      await golden('ecr-oidc-login', 'access-denied', { role_arn: RELEASE_ONLY_ROLE, refresh: false }, await job(), 'non-zero');
    });
    it('no OIDC token in the job', async () => {
      const context = await job();
      delete context.env.CIRCLE_OIDC_TOKEN_V2;
      await golden('ecr-oidc-login', 'no-token', { role_arn: ROLE, refresh: false }, context, 'non-zero');
    });
    it('ECR refuses an account the role cannot reach', async () => {
      await golden('ecr-oidc-login', 'ecr-access-denied', { role_arn: ROLE, account_ids: UNREACHABLE_ACCOUNT, refresh: false }, await job(), 'non-zero');
    });
  });

  describe('ecr-login', () => {
    const keys = (id: string, secret: string) => ({ AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret });
    it('success', async () => {
      await golden('ecr-login', 'success', {}, await job(keys(STATIC.accessKeyId, STATIC.secretAccessKey)), 'zero');
    });
    it('an unknown access key', async () => {
      await golden('ecr-login', 'unknown-key', {}, await job(keys('AKIAREGAUTHGOLDEN999', STATIC.secretAccessKey)), 'non-zero');
    });
    it('a wrong secret key', async () => {
      await golden('ecr-login', 'wrong-secret', {}, await job(keys(STATIC.accessKeyId, 'wrong+static/secret/key/aa11bb22cc33')), 'non-zero');
    });
    it('the key variables are not set', async () => {
      await golden('ecr-login', 'keys-unset', {}, await job(), 'non-zero');
    });
  });

  describe('gcp-oidc-login', () => {
    it('success, refresh on', async () => {
      await golden('gcp-oidc-login', 'success', { registries: gcr.host }, await job(), 'zero');
    });
    it('the service account does not let this project impersonate it', async () => {
      await golden('gcp-oidc-login', 'sa-not-bound', { registries: gcr.host, refresh: false }, await job({ GCP_SERVICE_ACCOUNT: UNBOUND_SA }), 'non-zero');
    });
    it("the provider does not allow the token's audience", async () => {
      await golden('gcp-oidc-login', 'audience-refused', { registries: gcr.host, refresh: false }, await job({ CIRCLE_OIDC_TOKEN_V2: await aws.mintToken({ aud: 'some-other-audience' }) }), 'non-zero');
    });
    it('no OIDC token in the job', async () => {
      const context = await job();
      delete context.env.CIRCLE_OIDC_TOKEN_V2;
      await golden('gcp-oidc-login', 'no-token', { registries: gcr.host, refresh: false }, context, 'non-zero');
    });
  });

  describe('pull', () => {
    async function loggedIn(extra: Record<string, string> = {}): Promise<JobContext> {
      const context = await job(extra);
      const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
      expect(login.exitCode, login.stderr).toBe(0);
      return context;
    }
    it('success: three images', async () => {
      await engine.docker(['image', 'rm', '-f', ...images.map((image) => image.ref)]);
      await golden('pull', 'success', { images: images.map((image) => image.ref).join(',') }, await loggedIn(), 'zero');
    });
    it('an image that does not exist', async () => {
      await golden('pull', 'not-found', { images: `${registry.host}/app/missing:v1` }, await loggedIn(), 'non-zero');
    });
    it('not logged in to the registry', async () => {
      await golden('pull', 'unauthorized', { images: gcrImage.ref, max_attempts: 1 }, await job(), 'non-zero');
    });
    it('no engine at DOCKER_HOST', async () => {
      await golden('pull', 'no-engine', { images: images[0]?.ref ?? '' }, await job({ DOCKER_HOST: `unix:///tmp/regauth-golden-no-engine-${process.pid}.sock` }), 'non-zero');
    });
  });

  describe('logout', () => {
    async function loggedIn(): Promise<JobContext> {
      const context = await job();
      const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
      expect(login.exitCode, login.stderr).toBe(0);
      return context;
    }
    it('after a login', async () => {
      await golden('logout', 'success', {}, await loggedIn(), 'zero');
    });
    it('after a refreshing login that exported its AWS profile', async () => {
      const context = await job();
      const login = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, export_credentials: true }, context);
      expect(login.exitCode, login.stderr).toBe(0);
      await golden('logout', 'after-refresh-export', {}, context, 'zero');
    });
    it('a host regauth has no record of', async () => {
      await golden('logout', 'no-record', { registries: 'nope.example.com' }, await loggedIn(), 'zero');
    });
    it('nothing to log out of', async () => {
      await golden('logout', 'nothing', {}, await job(), 'zero');
    });
  });

});
