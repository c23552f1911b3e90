import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExternalAccountClient } from 'google-auth-library';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createArgvShims, type ArgvShims } from '../support/canary.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * regauth/gcp-oidc-login end to end: the packed dist/orb.yml run as CircleCI runs it, against the
 * local Google (OIDC issuer, STS, IAM Credentials on 127.0.0.1, JWT signatures, audiences,
 * mapping, condition and bindings checked) and real token-auth registries that take
 * `oauth2accesstoken` with an access token that Google issued, as Artifact Registry does. The orb
 * reaches the local Google through gcloud's CLOUDSDK_API_ENDPOINT_OVERRIDES_* variables.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const UNBOUND_SA = 'other@acme-project.iam.gserviceaccount.com';
const SEEDER = { username: 'seeder', password: 'seeder-pw-3f1c' };
const NO_DAEMON = 'unix:///tmp/regauth-gcp-no-daemon.sock';
/** The README's mapping: works for v1 and v2 tokens alike. */
const PROJECT_MAPPING = { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" };

describe.runIf(enabled)('regauth/gcp-oidc-login through the packed orb', () => {
  let orb: Orb;
  let google: LocalGoogle;
  let engine: Engine;
  let registry: Registry;
  let registryB: Registry;
  let image: SeededImage;
  let imageB: SeededImage;
  let shims: ArgvShims;

  beforeAll(async () => {
    orb = loadOrb();
    google = await startLocalGoogle({ attributeMapping: PROJECT_MAPPING });
    // The condition needs the org id, which the issuer is made with.
    google.setProvider({ attributeCondition: `assertion.aud == '${google.orgId}'` });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    google.setServiceAccount(UNBOUND_SA, { workloadIdentityUsers: [google.projectPrincipalSet('another-project')] });
    // The service account reads both registries; the pool's project set reads registry A directly.
    const hooksA = google.registryAuth([`serviceAccount:${SA}`, google.projectPrincipalSet()]);
    const hooksB = google.registryAuth([`serviceAccount:${SA}`]);
    const token = (hooks: typeof hooksA) => ({
      authenticate: hooks.authenticate,
      authorize: (user: string, scope: { type: string; name: string; actions: string[] }) => (user === SEEDER.username ? scope.actions : hooks.authorize(user, scope)),
    });
    [engine, registry, registryB] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'token', users: { [SEEDER.username]: SEEDER.password }, token: token(hooksA) }),
      startRegistry({ auth: 'token', users: { [SEEDER.username]: SEEDER.password }, token: token(hooksB) }),
    ]);
    [image, imageB] = await Promise.all([seedImage(registry, { name: 'acme-project/images/api', tag: '1.4.2', as: SEEDER }), seedImage(registryB, { name: 'acme-project/images/worker', tag: '3.1', as: SEEDER })]);
    shims = createArgvShims();
  });

  afterAll(async () => {
    shims?.remove();
    await Promise.all([google?.stop(), engine?.stop(), registry?.stop(), registryB?.stop()]);
  });

  afterEach(() => {
    google.clearFaults();
    google.resetCounters();
    shims.clear();
  });

  async function job(extra: Record<string, string> = {}, dockerHost = NO_DAEMON): Promise<JobContext> {
    const context = newJob({
      ...google.endpointEnv(),
      CIRCLE_OIDC_TOKEN_V2: await google.mintToken(),
      CIRCLE_OIDC_TOKEN: await google.mintToken({ version: 'v1' }),
      GCP_WORKLOAD_IDENTITY_PROVIDER: google.providerName,
      GCP_SERVICE_ACCOUNT: SA,
      DOCKER_HOST: dockerHost,
      ...extra,
    });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    context.env.PATH = shims.pathWith(context.env.PATH ?? '');
    return context;
  }

  const login = (context: JobContext, params: Record<string, ParameterValue> = {}) => runOrbCommand(orb, 'gcp-oidc-login', { registries: `${registry.host},${registryB.host}`, ...params }, context);

  function dockerAuths(context: JobContext): Record<string, { auth: string }> {
    const file = join(context.env.DOCKER_CONFIG ?? '', 'config.json');
    return existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, { auth: string }> }).auths ?? {}) : {};
  }

  /** Every secret of the job: its OIDC tokens and every token Google issued. */
  function secrets(context: JobContext): string[] {
    return [context.env.CIRCLE_OIDC_TOKEN_V2 ?? '', context.env.CIRCLE_OIDC_TOKEN ?? '', ...google.issuedTokens().map((t) => t.token)].filter((s) => s !== '');
  }

  function expectNoSecretOutside(context: JobContext, texts: string[]): void {
    const argv = shims.invocations().map((i) => i.argv.join(' ')).join('\n');
    const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
    for (const secret of secrets(context)) {
      for (const [where, text] of [['output', texts.join('\n')], ['argv', argv], ['$BASH_ENV', bashEnv]] as const) {
        expect(text.includes(secret) || text.includes(secret.slice(10, 40)), `a secret reached ${where}`).toBe(false);
      }
    }
  }

  const requests = () => [google.count('sts'), google.count('iam')];

  describe('with a service account', () => {
    it('logs in to two registries as oauth2accesstoken, and docker pulls from both through a real dockerd', async () => {
      const context = await job({}, engine.dockerHost);
      const before = await runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
      expect(before.exitCode).not.toBe(0);

      const result = await login(context, { refresh: false });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(requests()).toEqual([1, 1]);
      // One line per registry after the header and the notes; the claims only with REGAUTH_DEBUG=1.
      expect(result.stdout).not.toContain('OIDC token from');
      for (const host of [registry.host, registryB.host]) {
        expect(result.stdout).toMatch(new RegExp(`regauth: logged in to ${host.replaceAll('.', '\\.')} as ${SA.replaceAll('.', '\\.')}, valid until \\d\\d:\\d\\d:\\d\\d UTC, does not renew \\(refresh: false\\)\\n`));
      }
      expect(result.stdout).toContain(`regauth: note: ${registry.host} is not an Artifact Registry or gcr.io host; logging in to it as oauth2accesstoken anyway (a private endpoint?)`);
      const [user, password] = Buffer.from(dockerAuths(context)[registry.host]?.auth ?? '', 'base64').toString().split(':');
      expect(user).toBe('oauth2accesstoken');
      expect(google.verifyAccessToken(password ?? '')?.serviceAccount).toBe(SA);
      expect(google.log[0]?.audience).toBe(`//iam.googleapis.com/${google.providerName}`);
      expect(google.log[1]?.lifetime).toBe('3600s');
      // The shims record in no particular order.
      const byText = (a: string[], b: string[]) => a.join(' ').localeCompare(b.join(' '));
      expect(shims.invocations().filter((i) => i.tool === 'docker').map((i) => i.argv).sort(byText)).toEqual(
        [
          ['login', '--username', 'oauth2accesstoken', '--password-stdin', registry.host],
          ['login', '--username', 'oauth2accesstoken', '--password-stdin', registryB.host],
          ['pull', '-q', image.ref],
        ].sort(byText),
      );

      const pulled = await runUserStep(context, 'docker pull -q "$A" && docker pull -q "$B" && docker image inspect --format "{{json .RepoDigests}}" "$A" "$B"', { A: image.ref, B: imageB.ref });
      expect(pulled.exitCode, pulled.stderr).toBe(0);
      expect(pulled.stdout).toContain(image.digest);
      expect(pulled.stdout).toContain(imageB.digest);
      expectNoSecretOutside(context, [result.stdout, result.stderr, pulled.stdout, pulled.stderr]);
    });

    it('asks for the token_lifetime it is given, and refresh: false logs in the same way', async () => {
      google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()], allowLifetimeExtension: true });
      try {
        const context = await job();
        const result = await login(context, { token_lifetime: 7200, refresh: false });
        expect(result.exitCode, result.stderr).toBe(0);
        expect(google.log.filter((e) => e.service === 'iam').map((e) => e.lifetime)).toEqual(['7200s']);
        expect(Object.keys(dockerAuths(context)).sort()).toEqual([registry.host, registryB.host].sort());
      } finally {
        google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
      }
    });

    it('fails at once on a lifetime over 3600 s without the extension policy, after one request to IAM', async () => {
      const result = await login(await job(), { token_lifetime: 7200 });
      expect(result.exitCode).not.toBe(0);
      expect(requests()).toEqual([1, 1]);
      expect(result.stderr).toMatch(/^regauth: gcp-oidc-login: iamcredentials generateAccessToken failed: INVALID_ARGUMENT \(HTTP 400\): .*lifetime.*; check service_account and token_lifetime \(over 3600 needs constraints\/iam\.allowServiceAccountCredentialLifetimeExtension\)\n$/);
    });
  });

  it('without a service account uses the federated token directly (no IAM Credentials call)', async () => {
    const context = await job({ GCP_SERVICE_ACCOUNT: '' }, engine.dockerHost);
    const result = await login(context, { registries: registry.host });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(requests()).toEqual([1, 0]);
    expect(result.stdout).toContain(`regauth: logged in to ${registry.host} as the federated principal (no service_account), valid until `);
    const pulled = await runUserStep(context, 'docker pull -q "$A"', { A: image.ref });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expectNoSecretOutside(context, [result.stdout, result.stderr]);
  });

  it('mints a token with the audience through `circleci run oidc get --claims` when audience is set', async () => {
    const AUD = 'gcp-custom-audience';
    google.setProvider({ allowedAudiences: [google.orgId, AUD], attributeCondition: undefined });
    try {
      const minted = await google.mintToken({ aud: AUD });
      shims.setOidcToken(minted);
      const context = await job({ REGAUTH_DEBUG: '1' });
      const result = await login(context, { audience: AUD });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(shims.invocations().filter((i) => i.tool === 'circleci').map((i) => i.argv)).toEqual([['run', 'oidc', 'get', '--claims', JSON.stringify({ aud: AUD })]]);
      expect(result.stdout).toContain(`regauth: OIDC token from circleci run oidc get: iss="${google.issuer.url}" aud="${AUD}" `);
      expect(requests()).toEqual([1, 1]);
      expect(`${result.stdout}${result.stderr}`).not.toContain(minted);
    } finally {
      shims.setOidcToken(undefined);
      google.setProvider({ allowedAudiences: [google.orgId], attributeCondition: `assertion.aud == '${google.orgId}'` });
    }
  });

  describe('errors: transient ones are retried, permanent ones fail after exactly one request', () => {
    it.each([
      ['sts', '429', [3, 1]],
      ['sts', '503', [2, 1]],
      ['sts', 'reset', [2, 1]],
      ['iam', '500', [1, 2]],
      ['iam', '429', [1, 2]],
    ] as const)('%s %s is retried and the login succeeds', async (service, kind, counts) => {
      google.failNext(service, counts[service === 'sts' ? 0 : 1] - 1, kind);
      const context = await job();
      const result = await login(context, { refresh: false });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(requests()).toEqual(counts);
      expect(result.stdout).toMatch(new RegExp(`regauth: ${service === 'sts' ? 'sts\\.googleapis\\.com token exchange' : 'iamcredentials generateAccessToken'} failed \\(attempt 1: [^"]*\\); retrying in \\d+\\.\\d s`));
      expect(Object.keys(dockerAuths(context))).toHaveLength(2);
    });

    it('invalid_grant (audience not allowed): one request, the claims beside what the provider must have', async () => {
      google.setProvider({ allowedAudiences: ['some-other-audience'] });
      try {
        const context = await job();
        const result = await login(context);
        expect(result.exitCode).not.toBe(0);
        expect(requests()).toEqual([1, 0]);
        const sub = google.issuer.claims().sub ?? '';
        expect(result.stdout).toContain(`regauth: the job's token: iss="${google.issuer.url}" aud="${google.orgId}" sub="${sub}" (sub: ${Buffer.byteLength(sub)} bytes)\n`);
        expect(result.stdout).toContain('regauth: workload_identity_provider must accept it: issuer = its iss, allowed audiences include its aud, google.subject mapped to at most 127 bytes\n');
        // Header, claims, what the provider must accept, closing line (besides the notes about this test's non-Google hosts).
        expect(`${result.stdout}${result.stderr}`.split('\n').filter((line) => line && !line.startsWith('regauth: note: '))).toHaveLength(4);
        expect(result.stderr).toBe(
          `regauth: gcp-oidc-login: sts.googleapis.com token exchange failed: invalid_grant (HTTP 400): "The audience in ID Token [${google.orgId}] does not match the expected audience."; likely cause: the provider's allowed audiences do not include the token's aud: add it (CircleCI's default aud is the organization id ${google.orgId}); check the provider ${google.providerName}\n`,
        );
        expect(dockerAuths(context)).toEqual({});
        expectNoSecretOutside(context, [result.stdout, result.stderr]);
      } finally {
        google.setProvider({ allowedAudiences: [google.orgId] });
      }
    });

    it('invalid_target (no such provider): one request', async () => {
      const result = await login(await job(), { workload_identity_provider: google.providerName.replace(/providers\/.*/, 'providers/missing-one') });
      expect(result.exitCode).not.toBe(0);
      expect(requests()).toEqual([1, 0]);
      expect(result.stderr).toMatch(/failed: invalid_target \(HTTP 400\): ".*"; likely cause: the pool or provider does not exist, is disabled, or lives in another project: check workload_identity_provider/);
    });

    it('unauthorized_client (attribute condition): one request', async () => {
      const result = await login(await job({ CIRCLE_OIDC_TOKEN_V2: await google.mintToken({ aud: [google.orgId, 'x'] }) }));
      expect(requests()[0]).toBe(1);
      // aud is an array here: the condition compares a string, so it rejects the token.
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('unauthorized_client (HTTP 400): "The given credential is rejected by the attribute condition."');
      expect(result.stderr).toContain("likely cause: the provider's attribute condition rejected these claims");
    });

    it('an expired job token: one request, and the cause names the expiry', async () => {
      const result = await login(await job({ CIRCLE_OIDC_TOKEN_V2: await google.mintToken({ iat: Math.floor(Date.now() / 1000) - 7200 }) }));
      expect(result.exitCode).not.toBe(0);
      expect(requests()).toEqual([1, 0]);
      expect(result.stderr).toContain('likely cause: the token has expired (CircleCI tokens live 1 h from job start)');
    });

    it('PERMISSION_DENIED: one request to IAM, and the principal that needs roles/iam.workloadIdentityUser', async () => {
      const context = await job({ GCP_SERVICE_ACCOUNT: UNBOUND_SA });
      const result = await login(context);
      expect(result.exitCode).not.toBe(0);
      expect(requests()).toEqual([1, 1]);
      expect(result.stdout).toContain(`regauth: fix: gcloud iam service-accounts add-iam-policy-binding ${UNBOUND_SA} --role=roles/iam.workloadIdentityUser --member="${google.projectPrincipalSet()}"\n`);
      expect(result.stderr).toMatch(/^regauth: gcp-oidc-login: iamcredentials generateAccessToken failed: PERMISSION_DENIED \(HTTP 403\): "Permission 'iam\.serviceAccounts\.getAccessToken' denied on resource \(or it may not exist\)\."; likely cause: this job's principal may not impersonate .*check service_account\n$/);
      expectNoSecretOutside(context, [result.stdout, result.stderr]);
    });

    it('401 UNAUTHENTICATED from IAM: one request to IAM', async () => {
      google.failNext('iam', 1, 'UNAUTHENTICATED');
      const result = await login(await job());
      expect(result.exitCode).not.toBe(0);
      expect(requests()).toEqual([1, 1]);
      expect(result.stderr).toContain('iamcredentials generateAccessToken failed: UNAUTHENTICATED (HTTP 401)');
    });

    it('a lasting 503 gives up after 5 attempts and says so', async () => {
      google.failNext('sts', 5, '503');
      const result = await login(await job());
      expect(result.exitCode).not.toBe(0);
      expect(requests()).toEqual([5, 0]);
      expect(result.stderr).toContain('sts.googleapis.com token exchange failed after 5 attempts: server_error (HTTP 503)');
    }, 60_000);
  });

  describe("CircleCI's v2 sub over Google's 127-byte google.subject limit", () => {
    it('exchanges CIRCLE_OIDC_TOKEN (v1) instead, and says so in one line', async () => {
      google.setProvider({ attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
      try {
        const context = await job();
        const result = await login(context, { refresh: false });
        expect(result.exitCode, result.stderr).toBe(0);
        expect(requests()).toEqual([2, 1]);
        expect(google.log.filter((e) => e.service === 'sts').map((e) => [e.status, e.errorCode])).toEqual([
          [400, 'invalid_request'],
          [200, undefined],
        ]);
        const v2 = Buffer.byteLength(google.issuer.claims().sub ?? '');
        const v1 = Buffer.byteLength(google.issuer.claims({ version: 'v1' }).sub ?? '');
        expect(result.stdout.split('\n').filter((l) => l.includes('instead'))).toEqual([
          `regauth: Google refused CIRCLE_OIDC_TOKEN_V2: its sub (${v2} bytes) maps to a google.subject over 127 bytes; exchanging CIRCLE_OIDC_TOKEN (sub ${v1} bytes) instead`,
        ]);
        expect(Object.keys(dockerAuths(context))).toHaveLength(2);
        expectNoSecretOutside(context, [result.stdout, result.stderr]);
      } finally {
        google.setProvider({ attributeMapping: PROJECT_MAPPING });
      }
    });

    it('without CIRCLE_OIDC_TOKEN fails after one request with the mapping to change', async () => {
      google.setProvider({ attributeMapping: { 'google.subject': 'assertion.sub' } });
      try {
        const context = await job();
        delete context.env.CIRCLE_OIDC_TOKEN;
        const result = await login(context);
        expect(result.exitCode).not.toBe(0);
        expect(requests()).toEqual([1, 0]);
        expect(result.stderr).toContain("map it from assertion['oidc.circleci.com/project-id']");
        expect(result.stderr).toContain("likely cause: the mapped google.subject is over 127 bytes: CircleCI's v2 sub is");
      } finally {
        google.setProvider({ attributeMapping: PROJECT_MAPPING });
      }
    });
  });

  describe('hostile values: one exact line naming the parameter, before any request', () => {
    const hostile: [Record<string, ParameterValue>, Record<string, string>, string][] = [
      [{ workload_identity_provider: 'projects/1/locations/global/workloadIdentityPools/p$(id)/providers/x' }, {}, 'parameter workload_identity_provider: contains the shell metacharacter "$", which no valid value has'],
      // What CircleCI's gcp_auth: takes under this key; from a variable, the value is not shown.
      [{ workload_identity_provider: 'acme-org' }, {}, 'parameter workload_identity_provider: "acme-org" is a bare provider ID (the form CircleCI\'s gcp_auth: takes); give the full name projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/acme-org'],
      [{ workload_identity_provider: '${WIP}' }, { WIP: 'acme-org' }, 'parameter workload_identity_provider: ${WIP} is a bare provider ID (the form CircleCI\'s gcp_auth: takes); give the full name projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/${WIP}'],
      [{ workload_identity_provider: '${NOPE}' }, {}, 'parameter workload_identity_provider: is empty (the default is ${GCP_WORKLOAD_IDENTITY_PROVIDER}, which is not set); set it to projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>'],
      [{ workload_identity_provider: 'projects/my-proj/locations/global/workloadIdentityPools/circleci/providers/acme-org' }, {}, 'parameter workload_identity_provider: names project "my-proj"; it must be the project NUMBER (digits, as gcloud projects describe prints it), not the project id'],
      [{ service_account: 'ci@evil.com;rm -rf ~' }, {}, 'parameter service_account: contains the shell metacharacter ";", which no valid value has'],
      [{ service_account: 'ci-pull@example.com' }, {}, 'parameter service_account: must be a service account e-mail such as ci-pull@my-project.iam.gserviceaccount.com, got "ci-pull@example.com"'],
      [{ registries: 'gcr.io`id`' }, {}, 'parameter registries: item "gcr.io`id`" contains the shell metacharacter "`", which no valid value has'],
      [{ registries: 'us-docker.pkg.dev/proj/repo' }, {}, 'parameter registries: item "us-docker.pkg.dev/proj/repo" must be a host[:port] without a path, got "us-docker.pkg.dev/proj/repo"'],
      [{ registries: '' }, {}, 'parameter registries: is empty; name at least one registry host, e.g. us-docker.pkg.dev or gcr.io'],
      [{ audience: "x' || true" }, {}, 'parameter audience: contains the shell metacharacter "\'", which no valid value has'],
      [{ token_lifetime: 100 }, {}, 'parameter token_lifetime: must be from 600 to 43200, got 100'],
      [{ token_lifetime: 50000 }, {}, 'parameter token_lifetime: must be from 600 to 43200, got 50000'],
      [{}, { CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'http://sts.attacker.example/' }, 'environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: must use https:// (plain http is allowed for 127.0.0.1 and localhost only), got "http://sts.attacker.example/"'],
      [{}, { CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: 'file:///etc/passwd' }, 'environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: must be an https:// URL, got "file:///etc/passwd"'],
    ];
    it.each(hostile)('%j %j', async (params, env, expected) => {
      const context = await job(env);
      const result = await login(context, params);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toBe(`regauth: gcp-oidc-login: ${expected}\n`);
      expect(result.stdout).toMatch(/^regauth: regauth\/gcp-oidc-login \S+\n$/);
      expect(google.log).toHaveLength(0);
      expect(shims.invocations()).toEqual([]);
    });
  });

  describe('export_credentials', () => {
    it('writes a 0600 external-account file in a 0700 directory that google-auth-library uses; $BASH_ENV gets paths only; logout removes it all', async () => {
      const context = await job({}, engine.dockerHost);
      const result = await login(context, { export_credentials: true, refresh: false });
      expect(result.exitCode, result.stderr).toBe(0);
      const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
      const file = /^export GOOGLE_APPLICATION_CREDENTIALS='([^']+)'$/m.exec(bashEnv)?.[1] ?? '';
      expect(bashEnv).toBe(`export GOOGLE_APPLICATION_CREDENTIALS='${file}'\nexport CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE='${file}'\nexport CLOUDSDK_CONFIG='${join(context.cwd, '.regauth', 'gcloud')}'\n`);
      expect(file.startsWith(join(context.cwd, '.regauth', 'gcp-'))).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
      const config = JSON.parse(readFileSync(file, 'utf8')) as { credential_source: { file: string }; service_account_impersonation_url: string; token_url: string };
      expect(config.token_url).toBe(`${google.urls.sts}v1/token`);
      expect(config.service_account_impersonation_url).toBe(`${google.urls.iamCredentials}v1/projects/-/serviceAccounts/${SA}:generateAccessToken`);
      expect(statSync(config.credential_source.file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).not.toContain(context.env.CIRCLE_OIDC_TOKEN_V2 ?? '?');
      expect(result.stdout).toContain(`regauth: exported an external-account credential file ${file} (mode 0600;`);

      // A later step's Google client library acts as the same service account.
      const seen = await runUserStep(context, 'printf "%s" "$GOOGLE_APPLICATION_CREDENTIALS"');
      expect(seen.stdout).toBe(file);
      const client = ExternalAccountClient.fromJSON(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof ExternalAccountClient.fromJSON>[0]);
      const { token } = (await client?.getAccessToken()) ?? {};
      expect(google.verifyAccessToken(token ?? '')?.serviceAccount).toBe(SA);
      expectNoSecretOutside(context, [result.stdout, result.stderr]);

      const out = await runOrbCommand(orb, 'logout', {}, context);
      expect(out.exitCode, out.stderr).toBe(0);
      expect(dockerAuths(context)).toEqual({});
      expect(existsSync(file)).toBe(false);
      expect(existsSync(config.credential_source.file)).toBe(false);
      expect(existsSync(dirname(file))).toBe(false);
      expect(out.stdout).toContain(`regauth: logged out of ${registry.host}`);
      expect(out.stdout).toContain(`regauth: removed ${file}`);
    });
  });

  it("the registry stand-in refuses the access token once Google's clock passes its expiry, as Artifact Registry does", async () => {
    const context = await job({}, engine.dockerHost);
    expect((await login(context, { registries: registryB.host })).exitCode).toBe(0);
    const pull = () => runUserStep(context, 'docker rmi -f "$B" >/dev/null 2>&1; docker pull -q "$B"', { B: imageB.ref });
    expect((await pull()).exitCode).toBe(0);
    google.advance(3601);
    try {
      const late = await pull();
      expect(late.exitCode).not.toBe(0);
      expect(late.stderr).toMatch(/unauthorized|denied|authentication required/i);
    } finally {
      google.advance(-3601);
    }
  });

  it('regauth/logout undoes the login: both registries gone from the docker config, pulls refused again', async () => {
    const context = await job({}, engine.dockerHost);
    expect((await login(context, { refresh: false })).exitCode).toBe(0);
    expect(Object.keys(dockerAuths(context))).toHaveLength(2);
    const out = await runOrbCommand(orb, 'logout', {}, context);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(dockerAuths(context)).toEqual({});
    const pulled = await runUserStep(context, 'docker rmi -f "$B" >/dev/null 2>&1; docker pull -q "$B"', { B: imageB.ref });
    expect(pulled.exitCode).not.toBe(0);
  });
});
