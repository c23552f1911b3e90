import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startProcSampler } from '../support/canary.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { fakeCircleci, type FakeCircleci } from '../../testbed/fake-circleci.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, JOBS_HELPER_ON_PATH, runShStep, runUserStep, untilEpoch, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * gcp-oidc-login with refresh: true (the default) end to end: the packed orb, a real dockerd, real
 * token-auth registries that take Google's access tokens, the local Google (STS, IAM Credentials)
 * trusting the local CircleCI issuer, whose mint endpoint the fake circleci CLI calls. Job tokens,
 * federated and impersonated tokens all live LIFETIME seconds, so "hours into the job" is seconds
 * here (regauth's margin is half the lifetime for lifetimes this short, 5 minutes for real ones).
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const SEEDER = { username: 'seeder', password: 'seeder-pw-8c2d' };
const LIFETIME = 8;
const PROJECT_MAPPING = { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" };
const GOOGLE_AUTH_LIBRARY = createRequire(import.meta.url).resolve('google-auth-library');
/** A later step's Google client library: prints a digest of the token it got (never the token). */
const CLIENT_STEP = `node -e 'const { ExternalAccountClient } = require(process.env.GAL); const config = JSON.parse(require("fs").readFileSync(process.env.GOOGLE_APPLICATION_CREDENTIALS, "utf8")); ExternalAccountClient.fromJSON(config).getAccessToken().then((t) => console.log(require("crypto").createHash("sha256").update(String(t.token)).digest("hex")), (e) => { console.error(String(e && e.message)); process.exit(1); })'`;

describe.runIf(enabled)('gcp-oidc-login with refresh: docker-credential-regauth keeps Google logins valid for the whole job', () => {
  let orb: Orb;
  let aws: LocalAws;
  let google: LocalGoogle;
  let engine: Engine;
  let registry: Registry;
  let registryB: Registry;
  let image: SeededImage;
  let imageB: SeededImage;
  let cli: FakeCircleci;

  beforeAll(async () => {
    orb = loadOrb();
    // Only the local AWS's issuer and its mint endpoint are used: one org's token serves both clouds.
    aws = await startLocalAws({ lifetimes: { jobTokenSeconds: LIFETIME } });
    google = await startLocalGoogle({ issuer: aws.issuer, attributeMapping: PROJECT_MAPPING, federatedLifetimeSeconds: LIFETIME, accessLifetimeSeconds: LIFETIME });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    const hooks = google.registryAuth([`serviceAccount:${SA}`, google.projectPrincipalSet()]);
    const token = {
      authenticate: hooks.authenticate,
      authorize: (user: string, scope: { type: string; name: string; actions: string[] }) => (user === SEEDER.username ? scope.actions : hooks.authorize(user, scope)),
    };
    [engine, registry, registryB] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'token', users: { [SEEDER.username]: SEEDER.password }, token }),
      startRegistry({ auth: 'token', users: { [SEEDER.username]: SEEDER.password }, token }),
    ]);
    [image, imageB] = await Promise.all([seedImage(registry, { name: 'acme-project/images/api', tag: '2.0', as: SEEDER }), seedImage(registryB, { name: 'acme-project/images/worker', tag: '4.1', as: SEEDER })]);
    cli = fakeCircleci(aws.mintUrl);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([aws?.stop(), google?.stop(), engine?.stop(), registry?.stop(), registryB?.stop()]);
  });

  afterEach(() => {
    google.setProvider({ attributeMapping: PROJECT_MAPPING });
  });

  async function job(): Promise<JobContext> {
    const context = newJob({
      ...google.endpointEnv(),
      CIRCLE_OIDC_TOKEN_V2: await google.mintToken({ expiresInSeconds: LIFETIME }),
      CIRCLE_OIDC_TOKEN: await google.mintToken({ version: 'v1', expiresInSeconds: LIFETIME }),
      GCP_WORKLOAD_IDENTITY_PROVIDER: google.providerName,
      GCP_SERVICE_ACCOUNT: SA,
      DOCKER_HOST: engine.dockerHost,
    });
    context.env.PATH = `${cli.dir}:${context.env.PATH ?? ''}`;
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }

  const login = (context: JobContext, params: Record<string, ParameterValue> = {}) => runOrbCommand(orb, 'gcp-oidc-login', { registries: `${registry.host},${registryB.host}`, ...params }, context);
  const exchanges = () => ({ sts: google.count('sts'), iam: google.count('iam') });
  const cacheFile = (context: JobContext, host: string) => join(context.cwd, '.regauth', 'helper', 'cache', host);
  const cacheLine = (context: JobContext, host: string, line: number) => Number(readFileSync(cacheFile(context, host), 'utf8').split('\n')[line]);
  const expiryOf = (context: JobContext, host: string) => cacheLine(context, host, 2);
  const refreshAtOf = (context: JobContext, host: string) => cacheLine(context, host, 0);
  const withoutCli = (context: JobContext) => (context.env.PATH ?? '').split(':').filter((dir) => dir !== cli.dir).join(':');
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  function dockerConfig(context: JobContext): { auths?: Record<string, unknown>; credHelpers?: Record<string, string> } {
    const file = join(context.env.DOCKER_CONFIG ?? '', 'config.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, unknown>; credHelpers?: Record<string, string> }) : {};
  }

  /** Every secret of the job: its OIDC tokens and every token Google issued. */
  function expectNoSecret(context: JobContext, texts: string[]): void {
    const secrets = [context.env.CIRCLE_OIDC_TOKEN_V2 ?? '', context.env.CIRCLE_OIDC_TOKEN ?? '', ...google.issuedTokens().map((t) => t.token)].filter((s) => s !== '');
    const haystack = [...texts, readFileSync(context.bashEnvFile, 'utf8')].join('\n');
    for (const secret of secrets) expect(haystack.includes(secret.slice(10, 50)), 'a secret reached output or $BASH_ENV').toBe(false);
  }

  it('serves both registries from its cache, then refreshes once for the group after everything expired, for bash and /bin/sh steps', async () => {
    const context = await job();
    google.resetCounters();
    const result = await login(context);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    for (const host of [registry.host, registryB.host]) {
      expect(result.stdout).toMatch(new RegExp(`regauth: logged in to ${host.replaceAll('.', '\\.')} as ${SA.replaceAll('.', '\\.')}, valid until \\d\\d:\\d\\d:\\d\\d UTC, renews itself\\n`));
    }
    expect(result.stdout).not.toContain('warning');
    const docker = dockerConfig(context);
    expect(docker.credHelpers).toEqual({ [registry.host]: 'regauth', [registryB.host]: 'regauth' });
    // docker keeps an empty auths entry beside a credHelpers one; no password in it.
    expect(Object.values(docker.auths ?? {}).filter((entry) => Object.hasOwn(entry as object, 'auth'))).toEqual([]);
    expect(lstatSync(cacheFile(context, registry.host)).mode & 0o777).toBe(0o600);
    const recipe = readdirRecipe(context);
    expect(recipe).toMatchObject({ kind: 'gcp', audience: aws.orgId, provider: google.providerName, serviceAccount: SA, tokenLifetimeSeconds: 3600, settings: google.endpointEnv() });
    expect(exchanges()).toEqual({ sts: 1, iam: 1 });

    // A cached get within the lifetime: no request at all.
    const cached = await runShStep(context, 'printf %s "$HOST" | docker-credential-regauth get', { HOST: registryB.host });
    expect(cached.exitCode, cached.stderr).toBe(0);
    const answer = JSON.parse(cached.stdout) as { Username: string; Secret: string };
    expect(answer.Username).toBe('oauth2accesstoken');
    expect(google.verifyAccessToken(answer.Secret)?.serviceAccount).toBe(SA);
    expect(exchanges()).toEqual({ sts: 1, iam: 1 });

    // The job token and the Google access token expire (Google's clock counts the milliseconds the cache drops).
    await untilEpoch(expiryOf(context, registry.host) + 1);
    expect(google.verifyAccessToken(answer.Secret)).toBeUndefined();
    const sampler = startProcSampler();
    const pulled = await runUserStep(context, 'docker pull -q "$A" && docker pull -q "$B"', { A: image.ref, B: imageB.ref });
    const seen = await sampler.stop();
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    // One STS exchange and one generateAccessToken for the group (two registries), not one per pull.
    expect(exchanges()).toEqual({ sts: 2, iam: 2 });
    expect(cli.calls()).toContain(`run oidc get --claims {"aud":"${aws.orgId}"}`);

    await runUserStep(context, 'docker rmi -f "$A" "$B" >/dev/null', { A: image.ref, B: imageB.ref });
    await untilEpoch(refreshAtOf(context, registry.host));
    // /bin/sh without $BASH_ENV and without the endpoint overrides: the recipe carries them.
    const viaSh = await runShStep(context, 'docker pull -q "$A" && docker pull -q "$B"', { A: image.ref, B: imageB.ref }, Object.keys(google.endpointEnv()));
    expect(viaSh.exitCode, viaSh.stderr).toBe(0);
    expect(exchanges()).toEqual({ sts: 3, iam: 3 });

    const argv = [...seen.cmdlines, ...cli.calls()];
    expectNoSecret(context, [result.stdout, result.stderr, cached.stderr, pulled.stdout, pulled.stderr, viaSh.stdout, viaSh.stderr, ...argv]);
  }, 60_000);

  it('without a service account the federated token is refreshed: one STS exchange, no IAM call', async () => {
    const context = await job();
    context.env.GCP_SERVICE_ACCOUNT = '';
    google.resetCounters();
    const result = await login(context, { registries: registry.host });
    expect(result.exitCode, result.stderr).toBe(0);
    await untilEpoch(expiryOf(context, registry.host));
    const pulled = await runShStep(context, 'docker rmi -f "$A" >/dev/null 2>&1; docker pull -q "$A"', { A: image.ref });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(exchanges()).toEqual({ sts: 2, iam: 0 });
    const get = await runShStep(context, 'printf %s "$HOST" | docker-credential-regauth get', { HOST: registry.host });
    expect(google.verifyAccessToken((JSON.parse(get.stdout) as { Secret: string }).Secret)?.kind).toBe('federated');
  }, 60_000);

  it('export_credentials: an executable-sourced file with which google-auth-library gets a fresh token after everything expired', async () => {
    const context = await job();
    const result = await login(context, { export_credentials: true });
    expect(result.exitCode, result.stderr).toBe(0);
    const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
    const file = /^export GOOGLE_APPLICATION_CREDENTIALS='([^']+)'$/m.exec(bashEnv)?.[1] ?? '';
    expect(bashEnv).toContain(`export GOOGLE_APPLICATION_CREDENTIALS='${file}'\nexport CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE='${file}'\nexport GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES='1'\n`);
    expect(lstatSync(file).mode & 0o777).toBe(0o600);
    const config = JSON.parse(readFileSync(file, 'utf8')) as { credential_source: { executable?: { command: string; timeout_millis: number }; file?: string } };
    expect(config.credential_source.file).toBeUndefined();
    expect(config.credential_source.executable?.command).toMatch(new RegExp(`^${context.cwd}/bin/docker-credential-regauth google-executable gcp-[0-9a-f]{12}$`));
    expect(result.stdout).toContain(`regauth: exported an external-account credential file ${file} (mode 0600; its executable source is docker-credential-regauth`);

    const step = () => runUserStep(context, CLIENT_STEP, { GAL: GOOGLE_AUTH_LIBRARY });
    const tokenBy = (digest: string) => google.issuedTokens().find((t) => sha(t.token) === digest)?.token ?? '';
    const first = await step();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(google.verifyAccessToken(tokenBy(first.stdout.trim()))?.serviceAccount).toBe(SA);

    // The login's job token (and the first access token) expire; the library asks the helper again.
    await untilEpoch(expiryOf(context, registry.host));
    const mints = cli.calls().length;
    const later = await step();
    expect(later.exitCode, later.stderr).toBe(0);
    expect(later.stdout.trim()).not.toBe(first.stdout.trim());
    expect(google.verifyAccessToken(tokenBy(later.stdout.trim()))?.serviceAccount).toBe(SA);
    expect(cli.calls().slice(mints)).toEqual([`run oidc get --claims {"aud":"${aws.orgId}"}`]);
    expectNoSecret(context, [result.stdout, result.stderr, first.stderr, later.stderr, readFileSync(file, 'utf8')]);
  }, 60_000);

  it('a failing refresh (no circleci CLI) gives docker one clear line once the cached token expired', async () => {
    const context = await job();
    expect((await login(context)).exitCode).toBe(0);
    await untilEpoch(expiryOf(context, registry.host));
    const pulled = await runShStep(context, 'docker pull -q "$A"', { A: image.ref, PATH: withoutCli(context) });
    expect(pulled.exitCode).not.toBe(0);
    const lines = pulled.stderr.split('\n').filter((line) => line.includes('regauth:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/regauth: could not refresh the credentials for the registry \S+ \(could not mint an OIDC token with aud "[^"]+": neither circleci-agent nor circleci is on PATH\), and the cached ones have expired; run regauth's login step again in this job/);
    expectNoSecret(context, [pulled.stdout, pulled.stderr]);
  }, 60_000);

  it('warns in one line when only CIRCLE_OIDC_TOKEN (v1) was taken, naming the mapping that lets refreshes work', async () => {
    google.setProvider({ attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
    const context = await job();
    const result = await login(context);
    expect(result.exitCode, result.stderr).toBe(0);
    const warnings = result.stdout.split('\n').filter((line) => line.includes('warning'));
    expect(warnings).toEqual([
      "regauth: warning: Google took only CIRCLE_OIDC_TOKEN, but a refresh mints its token with `circleci run oidc get`, whose sub may map to a google.subject over 127 bytes as this provider is configured, so refreshes may fail once this token expires; map google.subject from assertion['oidc.circleci.com/project-id'] (narrowed by the attribute condition) to make them work",
    ]);
  }, 60_000);

  it('logout leaves nothing of the helper behind and unsets what was exported; refresh: false exports are unset too', async () => {
    for (const refresh of [true, false]) {
      const context = await job();
      expect((await login(context, { export_credentials: true, refresh })).exitCode).toBe(0);
      const file = /^export GOOGLE_APPLICATION_CREDENTIALS='([^']+)'$/m.exec(readFileSync(context.bashEnvFile, 'utf8'))?.[1] ?? '';
      expect(existsSync(file)).toBe(true);
      const out = await runOrbCommand(orb, 'logout', {}, context);
      expect(out.exitCode, out.stderr).toBe(0);
      expect(dockerConfig(context).credHelpers).toBeUndefined();
      expect(dockerConfig(context).auths ?? {}).toEqual({});
      expect(existsSync(file)).toBe(false);
      expect(existsSync(join(context.cwd, '.regauth', 'helper'))).toBe(false);
      expect(existsSync(join(context.cwd, 'bin', 'docker-credential-regauth'))).toBe(false);
      const after = await runUserStep(context, `${JOBS_HELPER_ON_PATH}; ` + 'echo "${GOOGLE_APPLICATION_CREDENTIALS-unset} ${CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE-unset} ${GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES-unset}"');
      expect(after.stdout, `refresh: ${String(refresh)}`).toBe('none\nunset unset unset\n');
    }
  }, 60_000);

  function readdirRecipe(context: JobContext): Record<string, unknown> {
    const dir = join(context.cwd, '.regauth', 'helper', 'recipes');
    const [name] = readdirSync(dir);
    return JSON.parse(readFileSync(join(dir, name ?? ''), 'utf8')) as Record<string, unknown>;
  }
});
