import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, type CommandResult, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * How regauth/ecr-oidc-login and regauth/ecr-login fail, through the packed orb, with the number
 * of requests each AWS service saw. The orb reaches the local stack through the SDK's standard
 * AWS_ENDPOINT_URL_STS / _ECR / _ECR_PUBLIC (aws.endpointEnv()). No daemon answers DOCKER_HOST
 * here: docker CLI 28 then logs in client-side, still checking the password with the registry.
 * Retries sleep for real in the packed orb (0.5 s base), so retried cases are few and short.
 */
const enabled = requireTools(['docker', 'docker-registry', 'htpasswd', 'openssl']);

const ACCOUNT = '123456789012';
const UNREACHABLE_ACCOUNT = '333333333333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const RELEASE_ONLY_ROLE = `arn:aws:iam::${ACCOUNT}:role/release-only`;
const ECR_PASSWORD = 'ecr-canary-password-83c1f0';
const STATIC = { accessKeyId: 'AKIAREGAUTHE2ESTATIC', secretAccessKey: 'static+canary/secret/key/0f9e8d7c6b5a', account: ACCOUNT };
const NO_DAEMON = 'unix:///tmp/regauth-ecr-failures-no-daemon.sock';

describe.runIf(enabled)('regauth ECR commands: failure classes through the packed orb', () => {
  let orb: Orb;
  let aws: LocalAws;
  let registry: Registry;

  beforeAll(async () => {
    orb = loadOrb();
    registry = await startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PASSWORD } });
    aws = await startLocalAws({
      roles: {
        [ROLE]: { subPattern: 'org/*' },
        [RELEASE_ONLY_ROLE]: { subPattern: 'org/*/vcs-ref/refs/heads/release' },
      },
      staticKeys: [STATIC],
      ecrPassword: ECR_PASSWORD,
      proxyEndpoints: { [ACCOUNT]: registry.url },
    });
  });

  afterAll(async () => {
    await Promise.all([aws?.stop(), registry?.stop()]);
  });

  afterEach(() => {
    aws.clearFaults();
    aws.resetCounters();
  });

  async function job(extra: Record<string, string> = {}): Promise<JobContext> {
    const context = newJob({ ...aws.endpointEnv(), CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(), AWS_DEFAULT_REGION: 'us-east-1', DOCKER_HOST: NO_DAEMON, ...extra });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }

  async function oidcLogin(params: Record<string, ParameterValue> = {}, extra: Record<string, string> = {}): Promise<CommandResult & { context: JobContext }> {
    const context = await job(extra);
    // Failure classes of the login itself, with version 1's fixed password (refresh.test.ts covers refresh).
    return { ...(await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, refresh: false, ...params }, context)), context };
  }

  const loggedIn = (context: JobContext): string[] => {
    const file = join(context.env.DOCKER_CONFIG ?? '', 'config.json');
    return existsSync(file) ? Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { auths?: object }).auths ?? {}) : [];
  };
  const counts = () => ({ sts: aws.count('sts'), ecr: aws.count('ecr'), ecrPublic: aws.count('ecr-public') });
  const closingLine = (result: CommandResult): string => {
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    return lines[0] ?? '';
  };

  describe('transient failures are retried, then succeed', () => {
    it.each([
      ['STS Throttling twice', 'sts', 2, 'Throttling', { sts: 3, ecr: 1, ecrPublic: 0 }, 'Throttling: "Rate exceeded"'],
      ['an STS 500', 'sts', 1, '500', { sts: 2, ecr: 1, ecrPublic: 0 }, 'InternalFailure'],
      ['a cut STS connection', 'sts', 1, 'reset', { sts: 2, ecr: 1, ecrPublic: 0 }, ''],
      ['IDPCommunicationError', 'sts', 1, 'IDPCommunicationError', { sts: 2, ecr: 1, ecrPublic: 0 }, 'IDPCommunicationError'],
      ['ECR Throttling', 'ecr', 1, 'Throttling', { sts: 1, ecr: 2, ecrPublic: 0 }, 'ThrottlingException'],
      ['an ECR 500', 'ecr', 1, '500', { sts: 1, ecr: 2, ecrPublic: 0 }, 'ServerException'],
    ] as const)('%s', async (_name, service, n, kind, expected, reason) => {
      aws.failNext(service, n, kind);
      const result = await oidcLogin();
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(counts()).toEqual(expected);
      const operation = service === 'sts' ? 'sts:AssumeRoleWithWebIdentity' : 'ecr:GetAuthorizationToken';
      const retries = result.stdout.split('\n').filter((line) => line.startsWith(`regauth: ${operation} failed (attempt `));
      expect(retries).toHaveLength(n);
      // The code only: the service's words are printed once, on a failure's closing line.
      for (const [index, line] of retries.entries()) expect(line).toContain(reason ? `(attempt ${index + 1}: ${reason.replace(/: .*/, '')})` : `(attempt ${index + 1}`);
      expect(loggedIn(result.context)).toEqual([registry.host]);
    });
  });

  describe('permanent failures stop at once', () => {
    it('AccessDenied (the trust policy`s sub does not match): 1 STS request, claims and trust-policy lines, one closing line', async () => {
      const result = await oidcLogin({ role_arn: RELEASE_ONLY_ROLE });
      expect(result.exitCode).toBe(1);
      expect(counts()).toEqual({ sts: 1, ecr: 0, ecrPublic: 0 });
      const provider = aws.issuer.url.replace(/^http:\/\//, '');
      // Five lines in all: the header, the claims, what the trust policy must allow (two), the closing line.
      expect(`${result.stdout}${result.stderr}`.split('\n').filter(Boolean)).toHaveLength(5);
      expect(result.stdout).toMatch(new RegExp(`regauth: the job's token: iss="${aws.issuer.url.replaceAll('.', '\\.')}" aud="${aws.orgId}" sub="org/${aws.orgId}/project/\\S+/vcs-ref/refs/heads/main"\n`));
      expect(result.stdout).toContain(`regauth: the trust policy of ${RELEASE_ONLY_ROLE} must allow sts:AssumeRoleWithWebIdentity for Federated "arn:aws:iam::${ACCOUNT}:oidc-provider/${provider}"`);
      expect(result.stdout).toContain(`regauth:   with StringEquals "${provider}:aud" = "${aws.orgId}" and StringLike "${provider}:sub" = "org/${aws.orgId}/project/`);
      expect(closingLine(result)).toMatch(/^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: AccessDenied \(HTTP 403\): "[^"]+"; likely cause: .*check role_arn's trust policy$/);
      expect(result.stdout).not.toContain('retrying');
    });

    it('IDPRejectedClaim: 1 STS request, diagnosed', async () => {
      aws.failNext('sts', 1, 'IDPRejectedClaim');
      const result = await oidcLogin();
      expect(result.exitCode).toBe(1);
      expect(counts()).toEqual({ sts: 1, ecr: 0, ecrPublic: 0 });
      expect(closingLine(result)).toContain('likely cause: the identity provider rejected one of these claims');
      expect(closingLine(result)).toMatch(/^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: IDPRejectedClaim \(HTTP 403\)/);
    });

    it('a role STS refuses for the requested duration: 1 STS request', async () => {
      const result = await oidcLogin({ session_duration: 7200 });
      expect(result.exitCode).toBe(1);
      expect(counts()).toEqual({ sts: 1, ecr: 0, ecrPublic: 0 });
      expect(closingLine(result)).toMatch(/^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: ValidationError .*MaxSessionDuration/);
    });

    it('ECR AccessDenied for an account the role cannot reach: 1 ECR request', async () => {
      const result = await oidcLogin({ account_ids: UNREACHABLE_ACCOUNT });
      expect(result.exitCode).toBe(1);
      expect(counts()).toEqual({ sts: 1, ecr: 1, ecrPublic: 0 });
      expect(closingLine(result)).toMatch(/^regauth: ecr-oidc-login: ecr:GetAuthorizationToken failed: AccessDeniedException .*333333333333.*allow ecr:GetAuthorizationToken/);
      expect(loggedIn(result.context)).toEqual([]);
    });

    it('a docker login the registry refuses: no retry', async () => {
      const context = await job();
      const other = await startRegistry({ auth: 'htpasswd', users: { AWS: 'not-the-ecr-password' } });
      try {
        aws.setProxyEndpoint(ACCOUNT, other.url);
        const result = await runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, refresh: false }, context);
        expect(result.exitCode).toBe(1);
        expect(closingLine(result)).toMatch(new RegExp(`^regauth: ecr-oidc-login: could not log in to ${other.host.replace('.', '\\.')} as AWS: the registry refused the credentials`));
        expect(result.stdout).not.toContain('retrying');
        expect(`${result.stdout}${result.stderr}`).not.toContain(ECR_PASSWORD);
      } finally {
        aws.setProxyEndpoint(ACCOUNT, registry.url);
        await other.stop();
      }
    });
  });

  describe('bad input is refused before any request', () => {
    it.each([
      ['a malformed role ARN', { role_arn: 'arn:aws:iam::12345:role/ci-pull' }, /parameter role_arn: must hold a 12-digit account id, got "12345"/],
      ['a non-role ARN', { role_arn: `arn:aws:s3:::${ACCOUNT}-bucket` }, /parameter role_arn: /],
      ['shell metacharacters in the ARN', { role_arn: `${ROLE};id` }, /parameter role_arn: .*";"/],
      ['a malformed region', { region: 'us_east_1' }, /parameter region: must be an AWS region such as us-east-1/],
      ['a short account id', { account_ids: '12345678901' }, /parameter account_ids: must be a 12-digit AWS account id, got "12345678901"/],
      ['an unset AWS_ROLE_ARN default', { role_arn: '${AWS_ROLE_ARN}' }, /parameter role_arn: is empty; .*AWS_ROLE_ARN/],
    ] as const)('%s', async (_name, params, message) => {
      const result = await oidcLogin(params);
      expect(result.exitCode).toBe(2);
      expect(closingLine(result)).toMatch(new RegExp(`^regauth: ecr-oidc-login: ${message.source}`));
      expect(aws.log).toHaveLength(0);
      expect(result.stdout).toMatch(/^regauth: regauth\/ecr-oidc-login \S+\n$/);
    });
  });

  describe('regauth/ecr-login (static keys)', () => {
    async function staticLogin(keys: { id: string; secret: string }, params: Record<string, ParameterValue> = {}): Promise<CommandResult & { context: JobContext }> {
      const context = await job({ AWS_ACCESS_KEY_ID: keys.id, AWS_SECRET_ACCESS_KEY: keys.secret });
      delete context.env.CIRCLE_OIDC_TOKEN_V2;
      return { ...(await runOrbCommand(orb, 'ecr-login', params, context)), context };
    }

    it('logs in with the keys (no STS call) and prints no secret', async () => {
      const result = await staticLogin({ id: STATIC.accessKeyId, secret: STATIC.secretAccessKey });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(counts()).toEqual({ sts: 0, ecr: 1, ecrPublic: 0 });
      expect(aws.log[0]?.principal).toBe(`arn:aws:iam::${ACCOUNT}:user/ci`);
      expect(result.stdout).toContain(`regauth: logged in to ${registry.host}`);
      expect(loggedIn(result.context)).toEqual([registry.host]);
      const shown = `${result.stdout}${result.stderr}${readFileSync(result.context.bashEnvFile, 'utf8')}`;
      for (const secret of [STATIC.secretAccessKey, ECR_PASSWORD]) expect(shown).not.toContain(secret);
    });

    it('takes the keys from the variables named by access_key_id / secret_access_key', async () => {
      const context = await job({ CI_KEY: STATIC.accessKeyId, CI_SECRET: STATIC.secretAccessKey });
      const result = await runOrbCommand(orb, 'ecr-login', { access_key_id: 'CI_KEY', secret_access_key: 'CI_SECRET', region: 'eu-west-1' }, context);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(aws.log.map((e) => e.region)).toEqual(['eu-west-1']);
    });

    it('a wrong secret fails at once with InvalidSignatureException: exactly 1 ECR request', async () => {
      const wrong = 'wrong+canary/secret/key/1a2b3c4d5e6f';
      const result = await staticLogin({ id: STATIC.accessKeyId, secret: wrong });
      expect(result.exitCode).toBe(1);
      expect(counts()).toEqual({ sts: 0, ecr: 1, ecrPublic: 0 });
      expect(closingLine(result)).toMatch(/^regauth: ecr-login: ecr:GetAuthorizationToken failed: InvalidSignatureException .*check the secret access key/);
      expect(`${result.stdout}${result.stderr}`).not.toContain(wrong);
    });

    it('an unknown key fails at once with UnrecognizedClientException: exactly 1 ECR request', async () => {
      const result = await staticLogin({ id: 'AKIAREGAUTHE2EUNKNOWN', secret: STATIC.secretAccessKey });
      expect(result.exitCode).toBe(1);
      expect(counts()).toEqual({ sts: 0, ecr: 1, ecrPublic: 0 });
      expect(closingLine(result)).toMatch(/^regauth: ecr-login: ecr:GetAuthorizationToken failed: UnrecognizedClientException .*keys are active/);
    });

    it('refuses a value that is not an access key id before any request', async () => {
      const result = await staticLogin({ id: 'not-a-key', secret: STATIC.secretAccessKey });
      expect(result.exitCode).toBe(2);
      expect(closingLine(result)).toBe('regauth: ecr-login: parameter access_key_id: the value of AWS_ACCESS_KEY_ID is not an AWS access key id (16 or more upper-case letters and digits)');
      expect(aws.log).toHaveLength(0);
    });

    it('ECR Throttling then success: 2 ECR requests', async () => {
      aws.failNext('ecr', 1, 'Throttling');
      const result = await staticLogin({ id: STATIC.accessKeyId, secret: STATIC.secretAccessKey });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(counts()).toEqual({ sts: 0, ecr: 2, ecrPublic: 0 });
    });
  });
});
