import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startConnectProxy, type ConnectProxy } from '../../testbed/connect-proxy.ts';
import { fakeCircleci, type FakeCircleci } from '../../testbed/fake-circleci.ts';
import { issueHostCertificate, type HostCertificate } from '../../testbed/tls-hosts.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * What regauth changes is on record (the journal) and logout gives it back: the job's own docker
 * login, the job's own variables, the job's own AWS config byte for byte, with the real AWS CLI v2
 * chaining a role from regauth's profile. Through the packed orb, a real registry and docker CLI.
 */
const enabled = requireTools(['docker', 'docker-registry', 'htpasswd', 'openssl', '/usr/bin/aws']);

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const DEPLOY = `arn:aws:iam::${ACCOUNT}:role/deploy`;
const ECR_PASSWORD = 'ecr-journal-canary-5b1e07';
const AWS_CLI = '/usr/bin/aws';

const USER_AWS_CONFIG = [
  '[default]',
  'region = eu-west-1',
  'output = json',
  '',
  '[profile deploy]',
  `role_arn = ${DEPLOY}`,
  'source_profile = regauth',
  'region = us-east-1',
  '',
  '[profile regauth]   ; the job\'s own profile of that name',
  'region = ap-south-1',
  '',
  '[profile sso-dev]',
  'sso_start_url = https://example.awsapps.com/start',
  'sso_region = us-east-1',
  'sso_account_id = 123456789012',
  'sso_role_name = Dev',
].join('\n'); // no newline at the end, as a hand-edited file may be

describe.runIf(enabled)('the journal: logout gives back what the job had', () => {
  let orb: Orb;
  let aws: LocalAws;
  let registry: Registry;
  let cli: FakeCircleci;
  // The AWS CLI v2 here (2.9) predates AWS_ENDPOINT_URL_STS, and a chained profile's AssumeRole
  // goes to the regional STS host: an HTTPS_PROXY routes that real name to the local STS.
  let stsCert: HostCertificate;
  let proxy: ConnectProxy;

  beforeAll(async () => {
    orb = loadOrb();
    registry = await startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PASSWORD } });
    aws = await startLocalAws({
      roles: { [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT] }, [DEPLOY]: { assumableBy: [ROLE], accounts: [ACCOUNT] } },
      ecrPassword: ECR_PASSWORD,
      proxyEndpoints: { [ACCOUNT]: registry.url },
    });
    cli = fakeCircleci(aws.mintUrl);
    stsCert = await issueHostCertificate(['sts.us-east-1.amazonaws.com']);
    proxy = await startConnectProxy({
      certPem: stsCert.certPem,
      keyPem: stsCert.keyPem,
      backendCaPem: stsCert.caPem,
      routes: { 'sts.us-east-1.amazonaws.com': { port: Number(new URL(aws.urls.sts).port), tls: false } },
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([aws?.stop(), registry?.stop(), proxy?.stop(), stsCert?.remove()]);
  });

  async function job(extra: Record<string, string> = {}): Promise<JobContext> {
    const context = newJob({ ...aws.endpointEnv(), CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(), AWS_DEFAULT_REGION: 'us-east-1', ...extra });
    context.env.PATH = `${cli.dir}:${context.cwd}/bin:${context.env.PATH ?? ''}`;
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }
  const login = (context: JobContext, params: Record<string, ParameterValue> = {}) => runOrbCommand(orb, 'ecr-oidc-login', { role_arn: ROLE, account_ids: ACCOUNT, ...params }, context);
  const logout = (context: JobContext, params: Record<string, ParameterValue> = {}) => runOrbCommand(orb, 'logout', params, context);
  const dockerConfig = (context: JobContext) => JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as { auths?: Record<string, unknown>; credHelpers?: Record<string, string> };

  for (const refresh of [true, false]) {
    it(`the job's own auths entry for the host survives login (refresh: ${refresh}) and logout byte for byte`, async () => {
      const context = await job();
      mkdirSync(context.env.DOCKER_CONFIG ?? '', { recursive: true, mode: 0o700 });
      const own = { auth: Buffer.from('runner:own-token').toString('base64'), email: 'ci@example.com' };
      const other = { auth: Buffer.from('x:y').toString('base64') };
      writeFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), JSON.stringify({ auths: { [registry.host]: own, 'other.example.com': other } }));
      const result = await login(context, { refresh });
      expect(result.exitCode, result.stderr).toBe(0);
      const during = dockerConfig(context);
      if (refresh) expect(during.credHelpers?.[registry.host]).toBe('regauth');
      else expect(JSON.stringify(during.auths?.[registry.host])).not.toBe(JSON.stringify(own));
      const out = await logout(context);
      expect(out.exitCode, out.stderr).toBe(0);
      expect(out.stdout).toContain(`regauth: gave back the job's own docker login for ${registry.host}`);
      const after = dockerConfig(context);
      expect(JSON.stringify(after.auths?.[registry.host])).toBe(JSON.stringify(own));
      expect(after.auths?.['other.example.com']).toEqual(other);
      expect(after.credHelpers).toBeUndefined();
      expect(existsSync(join(context.cwd, '.regauth', 'journal'))).toBe(false);
    }, 60_000);
  }

  for (const refresh of [true, false]) {
    it(`exports a profile into the job's own AWS config that a profile of the job chains from with the real AWS CLI (refresh: ${refresh}); logout gives the file back byte for byte`, async () => {
      const context = await job({ AWS_ACCESS_KEY_ID: 'AKIAJOURNALCANARY001' });
      const file = join(context.cwd, '.aws', 'config');
      mkdirSync(join(context.cwd, '.aws'), { mode: 0o700 });
      writeFileSync(file, USER_AWS_CONFIG);
      chmodSync(file, 0o640);
      const result = await login(context, { export_credentials: true, refresh });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain(`regauth: ${file} already had a profile regauth; regauth's replaces it for this job and logout gives it back`);
      expect(result.stdout).toContain(`regauth: exported AWS profile regauth into ${file}`);
      expect(result.stdout).toMatch(/regauth: warning: AWS_ACCESS_KEY_ID is set in this job's environment/);
      expect(result.stdout).not.toContain('AKIAJOURNALCANARY001');
      const written = readFileSync(file, 'utf8');
      // Every byte of the job's other profiles is where it was.
      expect(written.slice(0, USER_AWS_CONFIG.indexOf('[profile regauth]'))).toBe(USER_AWS_CONFIG.slice(0, USER_AWS_CONFIG.indexOf('[profile regauth]')));
      expect(written.endsWith(USER_AWS_CONFIG.slice(USER_AWS_CONFIG.indexOf('\n\n[profile sso-dev]')))).toBe(true);
      expect(written).not.toMatch(/aws_secret_access_key|aws_session_token|ASIA/);
      expect(lstatSync(file).mode & 0o777).toBe(0o640);
      const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
      expect(bashEnv.split('\n').filter((line) => line.includes('AWS'))).toEqual(["export AWS_PROFILE='regauth'"]);

      // A later step: the job's own profile chains from regauth's through the local STS (AssumeRole signed with regauth's keys).
      const viaProxy = { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1,localhost', AWS_CA_BUNDLE: stsCert.caFile };
      const chained = await runUserStep(context, `unset AWS_ACCESS_KEY_ID; ${AWS_CLI} sts get-caller-identity --profile deploy --query Arn --output text`, viaProxy);
      expect(chained.exitCode, chained.stderr).toBe(0);
      expect(chained.stdout.trim()).toMatch(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/deploy/`));
      const direct = await runUserStep(context, `unset AWS_ACCESS_KEY_ID; ${AWS_CLI} sts get-caller-identity --query Arn --output text`, viaProxy);
      expect(direct.exitCode, direct.stderr).toBe(0);
      expect(direct.stdout.trim()).toMatch(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/ci-pull/`));

      const out = await logout(context);
      expect(out.exitCode, out.stderr).toBe(0);
      expect(out.stdout).toContain(`regauth: removed regauth's AWS profile regauth from ${file} and gave back the job's own profile of that name`);
      expect(out.stdout).toContain('regauth: through $BASH_ENV: later steps no longer get AWS_PROFILE');
      expect(readFileSync(file, 'utf8')).toBe(USER_AWS_CONFIG);
      expect(lstatSync(file).mode & 0o777).toBe(0o640);
      const after = await runUserStep(context, 'echo "profile=${AWS_PROFILE-unset}"');
      expect(after.stdout).toBe('profile=unset\n');
    }, 60_000);
  }

  it('logout gives back the values the job had for the variables regauth exported, and unsets only the rest', async () => {
    const context = await job({ AWS_PROFILE: 'job-own' });
    const result = await login(context, { export_credentials: true, profile: 'ci-${CIRCLE_BUILD_NUM}' });
    expect(result.exitCode, result.stderr).toBe(0);
    const file = join(context.cwd, '.aws', 'config');
    expect(readFileSync(file, 'utf8')).toMatch(/^\[profile ci-\d*\]\n/);
    expect((await runUserStep(context, 'echo "$AWS_PROFILE"')).stdout).toMatch(/^ci-\d*\n$/);
    // A second login in the same job: the value logout gives back stays the job's.
    expect((await login(context, { export_credentials: true, profile: 'ci-${CIRCLE_BUILD_NUM}' })).exitCode).toBe(0);
    const out = await logout(context);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout).toContain('regauth: through $BASH_ENV: AWS_PROFILE is back to its value from before regauth');
    expect((await runUserStep(context, 'echo "profile=$AWS_PROFILE"')).stdout).toBe('profile=job-own\n');
    // regauth created the file, so it goes with regauth's only section.
    expect(existsSync(file)).toBe(false);
  }, 60_000);

  it('refuses an AWS config that is a link with one line, and leaves the link target alone', async () => {
    const context = await job();
    const target = join(context.cwd, 'elsewhere');
    writeFileSync(target, '[profile keep]\nregion = eu-west-1\n');
    symlinkSync(target, join(context.cwd, 'linked-config'));
    context.env.AWS_CONFIG_FILE = join(context.cwd, 'linked-config');
    const before = aws.count('sts', 'AssumeRoleWithWebIdentity');
    const result = await login(context, { export_credentials: true });
    // Refused before anything ran: no STS call, no docker login.
    expect(aws.count('sts', 'AssumeRoleWithWebIdentity')).toBe(before);
    expect(existsSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'))).toBe(false);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/^regauth: ecr-oidc-login: \S+linked-config is a symbolic link; regauth writes the AWS profile only into a regular file of the job's own user[^\n]*\n$/);
    expect(readFileSync(target, 'utf8')).toBe('[profile keep]\nregion = eu-west-1\n');
    expect((await logout(context)).exitCode).toBe(0);
  }, 60_000);

  it('rejects a profile name it will not write before anything runs', async () => {
    const context = await job();
    const before = aws.count('sts', 'AssumeRoleWithWebIdentity');
    for (const profile of ['default', 'a b', 'x]\n[evil']) {
      const result = await login(context, { export_credentials: true, profile });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(result.stderr).toMatch(/profile/);
    }
    expect(aws.count('sts', 'AssumeRoleWithWebIdentity')).toBe(before);
    expect(existsSync(join(context.cwd, '.regauth', 'journal'))).toBe(false);
  }, 60_000);

  it('a planted journal is not believed: no name of it reaches $BASH_ENV, no directory it names is made, no file outside regauth\'s is removed', async () => {
    const context = await job();
    const elsewhere = join(context.cwd, 'elsewhere-docker');
    writeFileSync(join(context.cwd, 'project.txt'), 'keep');
    mkdirSync(join(context.cwd, '.regauth'), { mode: 0o700 });
    writeFileSync(
      join(context.cwd, '.regauth', 'journal'),
      [
        JSON.stringify({ kind: 'export', name: 'PATH=/tmp/x; touch /tmp/regauth-pwned; X', previous: 'y' }),
        JSON.stringify({ kind: 'export', name: 'LD_PRELOAD' }),
        JSON.stringify({ kind: 'docker-auth', configDir: elsewhere, key: 'r.example.com' }),
        JSON.stringify({ kind: 'docker-login', configDir: context.env.DOCKER_CONFIG, key: '--help' }),
        JSON.stringify({ kind: 'file', path: join(context.cwd, 'project.txt') }),
        JSON.stringify({ kind: 'aws-profile', file: join(context.cwd, 'project.txt'), name: 'x', separator: '', createdFile: true }),
        'not json at all',
      ].join('\n'),
      { mode: 0o600 },
    );
    const out = await logout(context);
    expect(out.exitCode, out.stderr).toBe(0);
    const ignored = out.stdout.split('\n').filter((line) => line.startsWith('regauth: ignored '));
    expect(ignored).toHaveLength(7);
    expect(readFileSync(context.bashEnvFile, 'utf8')).toBe('');
    expect(existsSync(elsewhere)).toBe(false);
    expect(readFileSync(join(context.cwd, 'project.txt'), 'utf8')).toBe('keep');
  }, 60_000);

  it('a login that fails after installing the helper leaves it on record: logout removes the program (issue 25 item 7)', async () => {
    const context = await job();
    // config.json as a named pipe: the login installs the helper, then refuses to write docker's config.
    mkdirSync(context.env.DOCKER_CONFIG ?? '', { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', [join(context.env.DOCKER_CONFIG ?? '', 'config.json')]);
    const result = await login(context);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/config\.json is not a regular file/);
    const program = join(context.cwd, 'bin', 'docker-credential-regauth');
    expect(existsSync(program)).toBe(true);
    const out = await logout(context);
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout).toContain(`regauth: removed ${program}`);
    expect(existsSync(program)).toBe(false);
    expect(existsSync(join(context.cwd, '.regauth', 'helper'))).toBe(false);
  }, 60_000);

  it('a logout of a host regauth has no record of says there was nothing to remove for it', async () => {
    const context = await job();
    const out = await logout(context, { registries: 'quay.io' });
    expect(out.exitCode, out.stderr).toBe(0);
    // Beside the step's header line, this one line and nothing else.
    expect(out.stdout.split('\n').filter((line) => line !== '' && !/^regauth: regauth\/logout \S+$/.test(line))).toEqual(['regauth: nothing to remove for quay.io: regauth has no record of a login to it in this job']);
  }, 30_000);
});
