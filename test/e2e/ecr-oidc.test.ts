import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * regauth/ecr-oidc-login end to end: the packed dist/orb.yml run as CircleCI runs it, against the
 * local AWS stack (OIDC issuer, STS, ECR, ECR Public on 127.0.0.1, JWTs and SigV4 verified) and
 * real registries. The orb reaches the stack through the AWS SDK's standard AWS_ENDPOINT_URL_STS /
 * AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_ECR_PUBLIC settings (aws.endpointEnv()): that is how
 * these tests point it there, and it proves the orb honours them.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);

const ACCOUNT = '123456789012';
const ACCOUNT_A = '111111111111';
const ACCOUNT_B = '222222222222';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const AUD_ROLE = `arn:aws:iam::${ACCOUNT}:role/aud-x`;
const AUDIENCE = 'regauth-e2e-audience';
const ECR_PASSWORD = 'ecr-canary-password-5d1e9b';
const NO_DAEMON = 'unix:///tmp/regauth-ecr-no-daemon.sock';

describe.runIf(enabled)('regauth/ecr-oidc-login through the packed orb', () => {
  let orb: Orb;
  let aws: LocalAws;
  let engine: Engine;
  let registry: Registry;
  let registryB: Registry;
  let image: SeededImage;
  let imageB: SeededImage;

  beforeAll(async () => {
    orb = loadOrb();
    [engine, registry, registryB] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PASSWORD } }),
      startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PASSWORD } }),
    ]);
    const as = { username: 'AWS', password: ECR_PASSWORD };
    [image, imageB] = await Promise.all([seedImage(registry, { name: 'app/api', tag: '1.4.2', as }), seedImage(registryB, { name: 'team/worker', tag: 'v2', as })]);
    aws = await startLocalAws({
      roles: {
        [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT, ACCOUNT_A, ACCOUNT_B], maxSessionDuration: 43200 },
        [AUD_ROLE]: { aud: AUDIENCE, subPattern: 'org/*' },
      },
      providerAudiences: [AUDIENCE],
      ecrPassword: ECR_PASSWORD,
      proxyEndpoints: { [ACCOUNT]: registry.url, [ACCOUNT_A]: registry.url, [ACCOUNT_B]: registryB.url },
    });
  });

  afterAll(async () => {
    await Promise.all([aws?.stop(), engine?.stop(), registry?.stop(), registryB?.stop()]);
  });

  afterEach(() => {
    aws.clearFaults();
    aws.resetCounters();
  });

  /** A job whose docker talks to `dockerHost` (default: no daemon, so the CLI logs in client-side and still checks with the registry). */
  async function job(extra: Record<string, string> = {}, dockerHost = NO_DAEMON): Promise<JobContext> {
    const context = newJob({ ...aws.endpointEnv(), CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(), AWS_DEFAULT_REGION: 'us-east-1', DOCKER_HOST: dockerHost, ...extra });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }

  // These tests pin version 1's fixed-password login (refresh: false); refresh.test.ts covers refresh: true.
  const login = (context: JobContext, params: Record<string, ParameterValue> = {}) => runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, refresh: false, ...params }, context);

  function dockerAuths(context: JobContext): Record<string, { auth: string }> {
    const file = join(context.env.DOCKER_CONFIG ?? '', 'config.json');
    return existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, { auth: string }> }).auths ?? {}) : {};
  }

  const stsEntries = () => aws.log.filter((e) => e.service === 'sts');
  const ecrEntries = () => aws.log.filter((e) => e.service === 'ecr');

  describe('the job token', () => {
    it('uses CIRCLE_OIDC_TOKEN_V2, logs docker in, and docker pull works through a real dockerd', async () => {
      // REGAUTH_DEBUG=1: the claims and the assumed role are shown too (without it, one line per registry).
      const context = await job({ REGAUTH_DEBUG: '1' }, engine.dockerHost);
      const before = await runUserStep(context, 'docker pull -q "$IMAGE"', { IMAGE: image.ref });
      expect(before.exitCode).not.toBe(0);

      const result = await login(context);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('regauth: OIDC token from CIRCLE_OIDC_TOKEN_V2: ');
      expect(result.stdout).toContain(`regauth: assumed ${ROLE}, credentials valid until `);
      expect(result.stdout).toMatch(new RegExp(`regauth: logged in to ${registry.host.replaceAll('.', '\\.')} as ${ROLE}, valid until \\d\\d:\\d\\d:\\d\\d UTC, does not renew \\(refresh: false\\)\n`));
      expect([aws.count('sts', 'AssumeRoleWithWebIdentity'), aws.count('ecr', 'GetAuthorizationToken'), aws.count('ecr-public')]).toEqual([1, 1, 0]);
      expect(Buffer.from(dockerAuths(context)[registry.host]?.auth ?? '', 'base64').toString()).toBe(`AWS:${ECR_PASSWORD}`);

      const pulled = await runUserStep(context, 'docker pull -q "$IMAGE" && docker image inspect --format "{{json .RepoDigests}}" "$IMAGE"', { IMAGE: image.ref });
      expect(pulled.exitCode, pulled.stderr).toBe(0);
      expect(pulled.stdout).toContain(image.digest);
    });

    it('falls back to CIRCLE_OIDC_TOKEN when CIRCLE_OIDC_TOKEN_V2 is unset', async () => {
      const context = await job({ CIRCLE_OIDC_TOKEN: await aws.mintToken({ version: 'v1' }), REGAUTH_DEBUG: '1' });
      delete context.env.CIRCLE_OIDC_TOKEN_V2;
      const result = await login(context);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain('regauth: OIDC token from CIRCLE_OIDC_TOKEN: ');
      expect(result.stdout).not.toContain('vcs-origin');
      expect(Object.keys(dockerAuths(context))).toEqual([registry.host]);
    });

    it('fails with a clear line and no request when the job has no token at all', async () => {
      const context = await job();
      delete context.env.CIRCLE_OIDC_TOKEN_V2;
      const result = await login(context);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: no OIDC token: CIRCLE_OIDC_TOKEN_V2 and CIRCLE_OIDC_TOKEN are not set;.*\n$/);
      expect(aws.log).toHaveLength(0);
    });
  });

  describe('with the circleci CLI (a FAKE: the real one only works inside a CircleCI job)', () => {
    /**
     * FAKE `circleci`, first on PATH. It records its argv (never secret), answers `version`, and
     * prints the token held in a 0600 file only when called exactly as
     * `circleci run oidc get --claims {"aud":"<aud>"}`.
     */
    function fakeCircleci(context: JobContext, aud: string, token: string): { calls: () => string[] } {
      const dir = mkdtempSync(join(tmpdir(), 'regauth-fake-circleci-'));
      const tokenFile = join(dir, 'token');
      const log = join(dir, 'calls');
      writeFileSync(tokenFile, token, { mode: 0o600 });
      writeFileSync(log, '');
      const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      const script = [
        '#!/bin/bash',
        '# FAKE circleci CLI for the regauth tests; it is not the CircleCI CLI.',
        `printf '%s\\n' "$*" >> ${q(log)}`,
        'if [ "$#" -eq 1 ] && [ "$1" = version ]; then echo "0.1.0-fake-for-tests"; exit 0; fi',
        // regauth asks an unlinked `circleci` whether it is the job agent (src/job-token/agent.ts).
        'if [ "$*" = "run oidc get --help" ]; then echo "  --claims string   custom claims (fake)"; exit 0; fi',
        `if [ "$#" -ne 5 ] || [ "$1" != run ] || [ "$2" != oidc ] || [ "$3" != get ] || [ "$4" != --claims ] || [ "$5" != ${q(JSON.stringify({ aud }))} ]; then`,
        '  echo "fake circleci: unexpected arguments: $*" >&2; exit 64',
        'fi',
        `cat ${q(tokenFile)}`,
        '',
      ].join('\n');
      writeFileSync(join(dir, 'circleci'), script);
      chmodSync(join(dir, 'circleci'), 0o755);
      context.env.PATH = `${dir}:${context.env.PATH ?? ''}`;
      return { calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
    }

    it('mints a token with the audience through `circleci run oidc get --claims`', async () => {
      const context = await job({ REGAUTH_DEBUG: '1' });
      const minted = await aws.mintToken({ aud: AUDIENCE });
      const cli = fakeCircleci(context, AUDIENCE, minted);
      const result = await login(context, { role_arn: AUD_ROLE, audience: AUDIENCE });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(cli.calls().filter((c) => c.startsWith('run oidc get --claims'))).toEqual([`run oidc get --claims {"aud":"${AUDIENCE}"}`]);
      expect(result.stdout).toContain(`regauth: OIDC token from circleci run oidc get: iss="${aws.issuer.url}" aud="${AUDIENCE}" `);
      expect(stsEntries().map((e) => [e.roleArn, e.status])).toEqual([[AUD_ROLE, 200]]);
      expect(`${result.stdout}${result.stderr}`).not.toContain(minted);
      expect(Object.keys(dockerAuths(context))).toEqual([registry.host]);
    });

    it('fails with a clear line when the CLI prints no token, after retrying the mint a few times', async () => {
      const context = await job();
      const cli = fakeCircleci(context, AUDIENCE, '');
      const result = await login(context, { role_arn: AUD_ROLE, audience: AUDIENCE });
      expect(result.exitCode).not.toBe(0);
      const mints = cli.calls().filter((c) => c.startsWith('run oidc get --claims'));
      expect(mints.length).toBeGreaterThanOrEqual(2);
      expect(mints.length).toBeLessThanOrEqual(5);
      expect(result.stderr).toBe(`regauth: ecr-oidc-login: could not mint an OIDC token with aud "${AUDIENCE}": circleci run oidc get printed no token (${mints.length} attempts); it works only inside a CircleCI job, on a machine or docker executor with the circleci CLI\n`);
      expect(aws.log).toHaveLength(0);
    });

    it('re-mints an expired job token before calling STS, and says where the token came from', async () => {
      const expired = await aws.mintToken({ iat: Math.floor(Date.now() / 1000) - 4000 });
      const context = await job({ CIRCLE_OIDC_TOKEN_V2: expired, REGAUTH_DEBUG: '1' });
      const cli = fakeCircleci(context, aws.orgId, await aws.mintToken());
      const result = await login(context);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(cli.calls().filter((c) => c.startsWith('run oidc get --claims'))).toEqual([`run oidc get --claims {"aud":"${aws.orgId}"}`]);
      expect(result.stdout).toContain('regauth: OIDC token from circleci run oidc get: ');
      expect(stsEntries().map((e) => e.status)).toEqual([200]);
    });

    // GAP (src/job-token/token.ts obtainOidcToken + src/commands/ecr-oidc-login.ts): the proactive
    // re-mint of an expired CIRCLE_OIDC_TOKEN_V2 is silent; the step only names the new source, so
    // a user cannot tell the job token had expired (expected: a line saying so).
    it('says that the job token had expired when it re-mints it', async () => {
      const expired = await aws.mintToken({ iat: Math.floor(Date.now() / 1000) - 4000 });
      const context = await job({ CIRCLE_OIDC_TOKEN_V2: expired });
      fakeCircleci(context, aws.orgId, await aws.mintToken());
      const result = await login(context);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/CIRCLE_OIDC_TOKEN_V2[^\n]*expire/);
    });

    it('re-mints once when STS calls the token invalid, then fails with the diagnosis (2 STS requests)', async () => {
      const context = await job({ CIRCLE_OIDC_TOKEN_V2: await aws.forgeToken() });
      const cli = fakeCircleci(context, aws.orgId, await aws.forgeToken());
      const result = await login(context);
      expect(result.exitCode).toBe(1);
      expect(cli.calls().filter((c) => c.startsWith('run oidc get --claims'))).toHaveLength(1);
      expect(result.stdout).toContain(`regauth: STS refused the token as invalid or expired; minting a fresh one with aud ${aws.orgId}`);
      expect(stsEntries().map((e) => e.errorCode)).toEqual(['InvalidIdentityToken', 'InvalidIdentityToken']);
      expect(result.stdout).toContain(`must allow sts:AssumeRoleWithWebIdentity for Federated "arn:aws:iam::${ACCOUNT}:oidc-provider/`);
      expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: InvalidIdentityToken \(HTTP 400\)/);
    });
  });

  describe('an invalid or expired token without the CLI', () => {
    // BUG (src/commands/ecr-oidc-login.ts reauth → src/job-token/token.ts mintOidcToken): with no circleci
    // CLI on PATH, STS's InvalidIdentityToken / ExpiredTokenException still triggers a re-mint, whose
    // "circleci was not found on PATH" failure replaces STS's error: the closing line names the CLI,
    // not the expired/invalid token, and the trust-policy diagnosis is never printed.
    it('fails an expired token at once with the claims and the diagnosis (1 STS request)', async () => {
      const expired = await aws.mintToken({ iat: Math.floor(Date.now() / 1000) - 4000 });
      const context = await job({ CIRCLE_OIDC_TOKEN_V2: expired });
      const result = await login(context);
      expect(result.exitCode).toBe(1);
      expect(stsEntries().map((e) => e.errorCode)).toEqual(['ExpiredTokenException']);
      expect(result.stdout).toMatch(/regauth: the job's token: iss="\S+" aud="\S+" sub="\S+" expired at \d\d:\d\d:\d\d UTC\n/);
      expect(result.stderr).toContain('likely cause: the token has expired');
      expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: ExpiredTokenException .*log in earlier in the job, or set audience.*\n$/);
    });

    it('fails a forged token at once with the diagnosis (1 STS request)', async () => {
      const context = await job({ CIRCLE_OIDC_TOKEN_V2: await aws.forgeToken() });
      const result = await login(context);
      expect(result.exitCode).toBe(1);
      expect(stsEntries().map((e) => e.errorCode)).toEqual(['InvalidIdentityToken']);
      expect(result.stderr).toContain("likely cause: account 123456789012 needs an IAM OIDC provider for the token's iss");
      expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: InvalidIdentityToken/);
    });

    it('still sends exactly one STS request and fails non-zero today', async () => {
      const context = await job({ CIRCLE_OIDC_TOKEN_V2: await aws.forgeToken() });
      const result = await login(context);
      expect(result.exitCode).toBe(1);
      expect(stsEntries().map((e) => e.errorCode)).toEqual(['InvalidIdentityToken']);
      expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    });
  });

  describe('parameters', () => {
    it('logs in to every account in account_ids, each at its own proxyEndpoint host, and both pull', async () => {
      const context = await job({}, engine.dockerHost);
      const result = await login(context, { account_ids: `${ACCOUNT_A}, ${ACCOUNT_B}` });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(ecrEntries().map((e) => e.registryIds)).toEqual([[ACCOUNT_A, ACCOUNT_B]]);
      expect(Object.keys(dockerAuths(context)).sort()).toEqual([registry.host, registryB.host].sort());
      expect(result.stdout).toContain(`regauth: logged in to ${registry.host}`);
      expect(result.stdout).toContain(`regauth: logged in to ${registryB.host}`);
      const pulled = await runUserStep(context, 'docker pull -q "$A" && docker pull -q "$B"', { A: image.ref, B: imageB.ref });
      expect(pulled.exitCode, pulled.stderr).toBe(0);
    });

    it('derives role_session_name from the project and build, and sanitises a given one', async () => {
      const context = await job();
      expect((await login(context)).exitCode).toBe(0);
      for (const name of ['ci/main:build%7', 'é', 'x'.repeat(80)]) expect((await login(context, { role_session_name: name })).exitCode).toBe(0);
      expect(stsEntries().map((e) => e.roleSessionName)).toEqual([`regauth-app-${context.env.CIRCLE_BUILD_NUM}`, 'ci-main-build-7', 'regauth--', 'x'.repeat(64)]);
      // Whitespace and shell metacharacters are bad input under the contract's general rule.
      aws.resetCounters();
      const spaced = await login(context, { role_session_name: 'nightly build' });
      expect(spaced.exitCode).toBe(2);
      expect(spaced.stderr).toMatch(/^regauth: ecr-oidc-login: parameter role_session_name: /);
      expect(aws.log).toHaveLength(0);
    });

    it('passes session_duration to STS and refuses one out of 900–43200 before any request', async () => {
      const context = await job();
      const ok = await login(context, { session_duration: 7200 });
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(stsEntries().map((e) => e.durationSeconds)).toEqual([7200]);
      aws.resetCounters();
      for (const duration of [899, 43201]) {
        const result = await login(context, { session_duration: duration });
        expect(result.exitCode).toBe(2);
        expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: parameter session_duration: .*900.*43200/);
      }
      expect(aws.log).toHaveLength(0);
    });

    it('takes the region from the parameter, else AWS_DEFAULT_REGION, else AWS_REGION', async () => {
      const regionOf = async (params: Record<string, ParameterValue>, env: Record<string, string>, unset: string[] = []) => {
        const context = await job(env);
        for (const name of unset) delete context.env[name];
        aws.resetCounters();
        const result = await login(context, params);
        expect(result.exitCode, result.stderr).toBe(0);
        return ecrEntries()[0]?.region;
      };
      expect(await regionOf({ region: 'eu-west-2' }, { AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-west-2' })).toBe('eu-west-2');
      expect(await regionOf({}, { AWS_DEFAULT_REGION: 'ap-south-1', AWS_REGION: 'us-west-2' })).toBe('ap-south-1');
      expect(await regionOf({}, { AWS_REGION: 'ca-central-1' }, ['AWS_DEFAULT_REGION'])).toBe('ca-central-1');
      expect(await regionOf({ region: '${MY_REGION}' }, { MY_REGION: 'eu-north-1' })).toBe('eu-north-1');
    });

    it('fails clearly with no region anywhere, before any request', async () => {
      const context = await job();
      delete context.env.AWS_DEFAULT_REGION;
      const result = await login(context);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toBe('regauth: ecr-oidc-login: parameter region: is empty; set it (e.g. us-east-1) or set AWS_DEFAULT_REGION / AWS_REGION\n');
      expect(aws.log).toHaveLength(0);
    });

    it('with public: true asks ECR Public once and logs in to public.ecr.aws, which fails clearly offline', async () => {
      // The local ECR Public answers registry public.ecr.aws, as AWS does; this machine cannot
      // reach it, so docker's own login there fails and the step must end on that one clear line
      // (the private registry was logged in first). With network access the same fake password
      // is refused by the real public.ecr.aws, so the end-to-end success path is untestable here.
      const context = await job();
      const result = await login(context, { public: true });
      expect(result.exitCode).toBe(1);
      expect([aws.count('ecr', 'GetAuthorizationToken'), aws.count('ecr-public', 'GetAuthorizationToken')]).toEqual([1, 1]);
      expect(aws.log.find((e) => e.service === 'ecr-public')?.region).toBe('us-east-1');
      expect(result.stdout).toContain(`regauth: logged in to ${registry.host}`);
      expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: could not log in to public\.ecr\.aws as AWS( after 3 attempts)?: .*public\.ecr\.aws.*\n$/);
    });
  });

  describe('export_credentials', () => {
    it('writes its profile into the job\'s AWS config with no key in it (keys in a 0600 file of regauth\'s), puts only AWS_PROFILE in $BASH_ENV, and a real AWS CLI uses it; logout removes both', async () => {
      const context = await job();
      const result = await login(context, { export_credentials: true });
      expect(result.exitCode, result.stderr).toBe(0);

      const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
      const lines = bashEnv.split('\n').filter(Boolean);
      expect(lines.map((line) => /^export (\w+)=/.exec(line)?.[1]).sort()).toEqual(['AWS_PROFILE']);
      const configFile = join(context.cwd, '.aws', 'config');
      const config = readFileSync(configFile, 'utf8');
      expect(config).not.toMatch(/aws_secret_access_key|aws_session_token/);
      const credentialsFile = /credential_process = \/bin\/cat (\S+)/.exec(config)?.[1] ?? '';
      expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(credentialsFile)).mode & 0o777).toBe(0o700);
      const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as { SecretAccessKey: string; SessionToken: string };
      const secretKey = credentials.SecretAccessKey;
      const sessionToken = credentials.SessionToken;
      expect(secretKey.length).toBeGreaterThan(16);
      expect(sessionToken.length).toBeGreaterThan(100);
      expect(bashEnv).not.toContain(secretKey);
      expect(bashEnv).not.toContain(sessionToken);

      // A later step: the AWS CLI v2 finds the profile through $BASH_ENV alone. This CLI
      // version predates AWS_ENDPOINT_URL_*, so the endpoint is given on the command line.
      aws.resetCounters();
      const later = await runUserStep(
        context,
        '/usr/bin/aws ecr get-authorization-token --endpoint-url "$ECR_URL" --region us-east-1 --query "authorizationData[0].proxyEndpoint" --output text',
        { ECR_URL: aws.urls.ecr },
      );
      expect(later.exitCode, later.stderr).toBe(0);
      expect(later.stdout.trim()).toBe(registry.url);
      expect(ecrEntries().map((e) => [e.status, e.principal])).toEqual([[200, `arn:aws:sts::${ACCOUNT}:assumed-role/ci-pull/regauth-app-${context.env.CIRCLE_BUILD_NUM}`]]);

      const logout = await runOrbCommand(orb, 'logout', {}, context);
      expect(logout.exitCode, logout.stderr).toBe(0);
      expect(logout.stdout).toContain(`regauth: removed ${credentialsFile}`);
      expect(logout.stdout).toContain(`regauth: removed AWS profile regauth from ${configFile}`);
      expect(existsSync(credentialsFile)).toBe(false);
      expect(existsSync(configFile)).toBe(false);
    });
  });

  it('prints no secret: not the OIDC token, the STS keys, nor the ECR password', async () => {
    const context = await job();
    const oidcToken = context.env.CIRCLE_OIDC_TOKEN_V2 ?? '';
    const result = await login(context, { export_credentials: true, account_ids: `${ACCOUNT_A},${ACCOUNT_B}` });
    expect(result.exitCode, result.stderr).toBe(0);
    const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
    const credentialsFile = /credential_process = \/bin\/cat (\S+)/.exec(readFileSync(join(context.cwd, '.aws', 'config'), 'utf8'))?.[1] ?? '';
    const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as { SecretAccessKey: string; SessionToken: string };
    const secrets = [
      oidcToken,
      credentials.SecretAccessKey,
      credentials.SessionToken,
      Buffer.from(dockerAuths(context)[registry.host]?.auth ?? '', 'base64').toString().split(':')[1] ?? '',
    ];
    expect(secrets.every((s) => s.length >= 16)).toBe(true);
    expect(secrets[3]).toBe(ECR_PASSWORD);
    const shown = `${result.stdout}${result.stderr}${bashEnv}`;
    for (const secret of secrets) expect(shown).not.toContain(secret);
    expect(shown).not.toContain(Buffer.from(`AWS:${ECR_PASSWORD}`).toString('base64'));
  });
});
