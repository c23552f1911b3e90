/**
 * Secrets: canaries planted as every secret a user can give, through every command and its
 * failure paths; none may surface anywhere but config.json / an exported profile (0600 in 0700).
 */
import { lstatSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { canaryValue, type Canary, type Leak } from '../support/canary.ts';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { SuiteRecorder } from '../support/reliability-report.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, type ParameterValue } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';
import { startEchoRegistry, type EchoRegistry } from './echo-registry.ts';
import { startStsTap, type StsTap } from './sts-tap.ts';
import { entriesLost, FOREIGN_CONFIG, labJob, observe, stderrLines, type LabJob } from './harness.ts';

const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);
const orb = loadOrb();
const rec = new SuiteRecorder('secrets', 'Secrets: every command, every failure path', 1);
const NO_DAEMON = 'unix:///tmp/regauth-reliability-no-daemon.sock';

/** The secrets every job carries, whether the command uses them or not. */
const SECRET = {
  registryPassword: canaryValue('registry-password'),
  robotToken: canaryValue('robot-token'),
  wrongPassword: canaryValue('wrong-password'),
  keyPrivate: canaryValue('sa-private-key'),
  awsAccessKeyId: `AKIA${canaryValue('akid').slice(-18).toUpperCase()}`,
  awsSecretAccessKey: canaryValue('aws-secret'),
  oidcToken: canaryValue('oidc-token'),
  ecrPassword: canaryValue('ecr-password'),
  wrongSecretKey: canaryValue('wrong-aws-secret'),
};
const ACCOUNT = '123456789012';
const ECHO_ACCOUNT = '999999999999';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const AUD_ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-audience`;
const DENY_ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-other-project`;
const AUDIENCE = 'regauth-reliability';
const SA_KEY = JSON.stringify({ type: 'service_account', client_email: 'ci@project.iam.gserviceaccount.com', private_key: SECRET.keyPrivate });

const baseCanaries: Canary[] = [
  { label: 'registry password', value: SECRET.registryPassword },
  { label: 'robot token', value: SECRET.robotToken },
  { label: 'service-account key', value: SECRET.keyPrivate },
  { label: 'AWS access key id', value: SECRET.awsAccessKeyId },
  { label: 'AWS secret access key', value: SECRET.awsSecretAccessKey },
  { label: 'OIDC token', value: SECRET.oidcToken },
  { label: 'ECR password', value: SECRET.ecrPassword },
];

interface Lab {
  engine: Engine;
  registry: Registry;
  tokenRegistry: Registry;
  echo: EchoRegistry;
  image: SeededImage;
  ecrRegistry: Registry;
  ecrImage: SeededImage;
  aws: LocalAws;
  tap: StsTap;
  google: LocalGoogle;
  /** Takes oauth2accesstoken with a token the local Google issued, as Artifact Registry does. */
  gcpRegistry: Registry;
  gcpImage: SeededImage;
}

/** What a row adds at run time: a freshly minted token, the env that points at the local AWS. */
interface Prepared {
  env?: Record<string, string>;
  canaries?: Canary[];
  /** What `circleci run oidc get` prints. */
  mintable?: string;
}

type Expect = 'ok' | RegExp;

interface Step {
  command: string;
  params: (lab: Lab) => Record<string, ParameterValue>;
  expect: Expect;
}

interface SecretRow {
  name: string;
  /** Command that must be in the orb for the row to run. */
  needs: string;
  env?: Record<string, string>;
  extraCanaries?: Canary[];
  prepare?: (lab: Lab) => Promise<Prepared>;
  /** STS answers every call with an error quoting the token. */
  stsEcho?: boolean;
  setup?: (job: LabJob) => void;
  steps: Step[];
  /** Foreign config entries must survive (false where the config is broken on purpose). */
  keepsConfig?: boolean;
  then?: (job: LabJob, lab: Lab) => void;
  /** Requests the row's registry saw (attempts), counted over the row. */
  attempts?: (lab: Lab) => number;
}

const login = (host: (lab: Lab) => string, expect: Expect, user = 'REG_USER', pass = 'REG_PASS'): Step => ({
  command: 'login',
  params: (lab) => ({ registry: host(lab), username: user, password: pass }),
  expect,
});
const logout = (expect: Expect = 'ok', registries?: (lab: Lab) => string): Step => ({
  command: 'logout',
  params: (lab) => (registries ? { registries: registries(lab) } : {}),
  expect,
});
const reg = (lab: Lab): string => lab.registry.host;

const rows: SecretRow[] = [
  { name: 'login (engine verifies), then logout', needs: 'login', steps: [login(reg, 'ok'), logout()] },
  { name: 'login with no engine (the CLI verifies)', needs: 'login', env: { DOCKER_HOST: NO_DAEMON }, steps: [login(reg, 'ok')] },
  {
    name: 'login to a token-auth registry (robot account)',
    needs: 'login',
    env: { ROBOT_USER: 'robot', ROBOT_TOKEN: SECRET.robotToken },
    steps: [login((lab) => lab.tokenRegistry.host, 'ok', 'ROBOT_USER', 'ROBOT_TOKEN'), logout()],
  },
  {
    name: 'login with a service-account key as the password (_json_key)',
    needs: 'login',
    env: { KEY_USER: '_json_key', KEY_JSON: SA_KEY },
    steps: [login(reg, 'ok', 'KEY_USER', 'KEY_JSON')],
  },
  {
    name: 'wrong password: refused at once',
    needs: 'login',
    env: { REG_PASS: SECRET.wrongPassword },
    extraCanaries: [{ label: 'wrong password', value: SECRET.wrongPassword }],
    attempts: (lab) => lab.registry.readLog().match(/"GET \/v2\/ HTTP[^"]*" 401/g)?.length ?? 0,
    steps: [login(reg, /^regauth: login: could not log in to .* as ci: the registry refused the credentials/)],
  },
  {
    name: 'registry quotes the credentials in its error text (redacted)',
    needs: 'login',
    env: { DOCKER_HOST: NO_DAEMON },
    attempts: (lab) => lab.echo.attempts(),
    steps: [login((lab) => lab.echo.host, /^regauth: login: could not log in to 127\.0\.0\.1:\d+ as ci: the registry refused the credentials/)],
  },
  {
    name: 'config.json is a symbolic link: refused, link target untouched',
    needs: 'login',
    keepsConfig: false,
    setup: (job) => {
      const config = join(job.dockerConfig, 'config.json');
      writeFileSync(join(job.dockerConfig, 'target.json'), '{}\n', { mode: 0o600 });
      rmSync(config);
      symlinkSync('target.json', config);
    },
    steps: [login(reg, /^regauth: login: .*config\.json is a symbolic link/)],
    then: (job) => {
      expect(readFileSync(join(job.dockerConfig, 'target.json'), 'utf8')).toBe('{}\n');
      expect(lstatSync(join(job.dockerConfig, 'config.json')).isSymbolicLink()).toBe(true);
    },
  },
  {
    name: 'credsStore names a helper that is not installed: credentials go to config.json for this host only',
    needs: 'login',
    setup: (job) => writeFileSync(join(job.dockerConfig, 'config.json'), JSON.stringify({ ...FOREIGN_CONFIG, credsStore: 'regauth-missing' }), { mode: 0o600 }),
    steps: [login(reg, 'ok'), logout()],
  },
  {
    name: 'logout of named registries only',
    needs: 'login',
    env: { ROBOT_USER: 'robot', ROBOT_TOKEN: SECRET.robotToken },
    steps: [login(reg, 'ok'), login((lab) => lab.tokenRegistry.host, 'ok', 'ROBOT_USER', 'ROBOT_TOKEN'), logout('ok', (lab) => lab.tokenRegistry.host), logout()],
  },
  { name: 'logout with nothing logged in', needs: 'logout', steps: [logout()] },
  {
    name: 'pull a private image after login',
    needs: 'pull',
    steps: [login(reg, 'ok'), { command: 'pull', params: (lab) => ({ images: lab.image.ref }), expect: 'ok' }, logout()],
  },
  {
    name: 'pull refused without login (401)',
    needs: 'pull',
    steps: [{ command: 'pull', params: (lab) => ({ images: lab.image.ref, max_attempts: 2 }), expect: /^regauth: pull: / }],
  },
  ...ecrRows(),
  ...gcpRows(),
];

const GCP_SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const GCP_SEEDER = { username: 'seeder', password: canaryValue('gcp-seeder') };

/** The job tokens and the local Google's endpoints; Google's own tokens are canaries as they are issued. */
async function gcpJob(lab: Lab): Promise<Prepared> {
  const v2 = await lab.google.mintToken();
  const v1 = await lab.google.mintToken({ version: 'v1' });
  return {
    env: { ...lab.google.endpointEnv(), GCP_WORKLOAD_IDENTITY_PROVIDER: lab.google.providerName, GCP_SERVICE_ACCOUNT: GCP_SA, CIRCLE_OIDC_TOKEN_V2: v2, CIRCLE_OIDC_TOKEN: v1 },
    canaries: [
      { label: 'OIDC token v2 (job)', value: v2 },
      { label: 'OIDC token v1 (job)', value: v1 },
    ],
  };
}

function gcpRows(): SecretRow[] {
  const gcp = (params: Record<string, ParameterValue>, expect: Expect): Step => ({ command: 'gcp-oidc-login', params: (lab) => ({ registries: lab.gcpRegistry.host, ...params }), expect });
  return [
    {
      name: 'gcp-oidc-login impersonating a service account, pull through the engine, logout',
      needs: 'gcp-oidc-login',
      prepare: (lab) => gcpJob(lab),
      steps: [gcp({}, 'ok'), { command: 'pull', params: (lab) => ({ images: lab.gcpImage.ref }), expect: 'ok' }, logout()],
    },
    {
      name: 'gcp-oidc-login exporting an external-account file; logout removes it',
      needs: 'gcp-oidc-login',
      prepare: (lab) => gcpJob(lab),
      steps: [gcp({ export_credentials: true, refresh: false }, 'ok'), logout()],
    },
    {
      name: 'gcp-oidc-login refused the impersonation (PERMISSION_DENIED)',
      needs: 'gcp-oidc-login',
      prepare: (lab) => gcpJob(lab),
      steps: [gcp({ service_account: 'unbound@acme-project.iam.gserviceaccount.com' }, /^regauth: gcp-oidc-login: iamcredentials generateAccessToken failed: PERMISSION_DENIED/)],
    },
  ];
}

/** The job token, the local AWS endpoints (STS through the tap) and the region. */
async function awsJob(lab: Lab, mint = true): Promise<Prepared> {
  const token = await lab.aws.mintToken();
  return {
    env: { ...lab.aws.endpointEnv(), AWS_ENDPOINT_URL_STS: lab.tap.url, AWS_DEFAULT_REGION: 'us-east-1', ...(mint ? { CIRCLE_OIDC_TOKEN_V2: token } : {}) },
    canaries: mint ? [{ label: 'OIDC token (job)', value: token }] : [],
  };
}

function ecrRows(): SecretRow[] {
  const oidc = (params: Record<string, ParameterValue>, expect: Expect): Step => ({ command: 'ecr-oidc-login', params: () => ({ role_arn: ROLE, ...params }), expect });
  return [
    {
      name: 'ecr-oidc-login with the job token, pull through the engine, logout',
      needs: 'ecr-oidc-login',
      prepare: (lab) => awsJob(lab),
      steps: [oidc({}, 'ok'), { command: 'pull', params: (lab) => ({ images: lab.ecrImage.ref }), expect: 'ok' }, logout()],
    },
    {
      name: 'ecr-oidc-login minting a token for an audience (circleci run oidc get)',
      needs: 'ecr-oidc-login',
      prepare: async (lab) => {
        const base = await awsJob(lab, false);
        const minted = await lab.aws.mintToken({ aud: AUDIENCE });
        return { ...base, mintable: minted, canaries: [{ label: 'OIDC token (minted)', value: minted }] };
      },
      steps: [{ command: 'ecr-oidc-login', params: () => ({ role_arn: AUD_ROLE, audience: AUDIENCE }), expect: 'ok' }, logout()],
    },
    {
      name: 'ecr-oidc-login exporting the credentials as a profile; logout removes it',
      needs: 'ecr-oidc-login',
      prepare: (lab) => awsJob(lab),
      steps: [oidc({ export_credentials: true }, 'ok'), logout()],
    },
    {
      name: 'ecr-oidc-login refused by the trust policy (AccessDenied)',
      needs: 'ecr-oidc-login',
      prepare: (lab) => awsJob(lab),
      steps: [{ command: 'ecr-oidc-login', params: () => ({ role_arn: DENY_ROLE }), expect: /^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: AccessDenied/ }],
    },
    {
      name: 'STS quotes the token in its error text (redacted)',
      needs: 'ecr-oidc-login',
      stsEcho: true,
      // After InvalidIdentityToken regauth mints a fresh token once: that one is a canary too.
      prepare: async (lab) => {
        const base = await awsJob(lab);
        const fresh = await lab.aws.mintToken();
        return { ...base, mintable: fresh, canaries: [...(base.canaries ?? []), { label: 'OIDC token (re-minted)', value: fresh }] };
      },
      steps: [oidc({}, /^regauth: ecr-oidc-login: sts:AssumeRoleWithWebIdentity failed: InvalidIdentityToken .*Token (<token>|\*\*\*) could not be verified/)],
    },
    {
      name: 'registry quotes the ECR password in its error text (redacted)',
      needs: 'ecr-oidc-login',
      env: { DOCKER_HOST: NO_DAEMON },
      prepare: (lab) => awsJob(lab),
      attempts: (lab) => lab.echo.attempts(),
      steps: [oidc({ account_ids: ECHO_ACCOUNT, refresh: false }, /^regauth: ecr-oidc-login: could not log in to 127\.0\.0\.1:\d+ as AWS: the registry refused the credentials .*AWS:\*\*\*/)],
    },
    {
      name: 'ecr-login with static keys, pull, logout',
      needs: 'ecr-login',
      prepare: (lab) => awsJob(lab, false),
      steps: [{ command: 'ecr-login', params: () => ({ region: 'us-east-1' }), expect: 'ok' }, { command: 'pull', params: (lab) => ({ images: lab.ecrImage.ref }), expect: 'ok' }, logout()],
    },
    {
      name: 'ecr-login with a wrong secret key: refused at once',
      needs: 'ecr-login',
      env: { AWS_SECRET_ACCESS_KEY: SECRET.wrongSecretKey },
      extraCanaries: [{ label: 'wrong AWS secret key', value: SECRET.wrongSecretKey }],
      prepare: (lab) => awsJob(lab, false),
      steps: [{ command: 'ecr-login', params: () => ({ region: 'us-east-1' }), expect: /^regauth: ecr-login: ecr:GetAuthorizationToken failed/ }],
    },
  ];
}

describe.runIf(enabled)('secrets stay secret through every command and failure path', () => {
  let lab: Lab;

  beforeAll(async () => {
    const [engine, registry, tokenRegistry, echo] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'htpasswd', users: { ci: SECRET.registryPassword, _json_key: SA_KEY } }),
      startRegistry({ auth: 'token', users: { robot: SECRET.robotToken } }),
      startEchoRegistry(),
    ]);
    const ecrRegistry = await startRegistry({ auth: 'htpasswd', users: { AWS: SECRET.ecrPassword } });
    const [image, ecrImage] = await Promise.all([
      seedImage(registry, { name: 'app/secret', tag: '1', as: { username: 'ci', password: SECRET.registryPassword } }),
      seedImage(ecrRegistry, { name: 'app/ecr', tag: '1', as: { username: 'AWS', password: SECRET.ecrPassword } }),
    ]);
    const aws = await startLocalAws({
      roles: {
        [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT, ECHO_ACCOUNT] },
        [AUD_ROLE]: { aud: AUDIENCE, subPattern: 'org/*' },
        [DENY_ROLE]: { subPattern: 'org/*/project/some-other-project/*' },
      },
      providerAudiences: [AUDIENCE],
      staticKeys: [{ accessKeyId: SECRET.awsAccessKeyId, secretAccessKey: SECRET.awsSecretAccessKey, account: ACCOUNT }],
      ecrPassword: SECRET.ecrPassword,
      proxyEndpoints: { [ACCOUNT]: ecrRegistry.url, [ECHO_ACCOUNT]: `http://${echo.host}` },
    });
    const tap = await startStsTap(aws.urls.sts);
    const google = await startLocalGoogle({ attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" } });
    google.setServiceAccount(GCP_SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    const hooks = google.registryAuth([`serviceAccount:${GCP_SA}`]);
    const gcpRegistry = await startRegistry({
      auth: 'token',
      users: { [GCP_SEEDER.username]: GCP_SEEDER.password },
      token: { authenticate: hooks.authenticate, authorize: (user, scope) => (user === GCP_SEEDER.username ? scope.actions : hooks.authorize(user, scope)) },
    });
    const gcpImage = await seedImage(gcpRegistry, { name: 'acme-project/images/app', tag: '1', as: GCP_SEEDER });
    lab = { engine, registry, tokenRegistry, echo, image, ecrRegistry, ecrImage, aws, tap, google, gcpRegistry, gcpImage };
  });

  afterAll(async () => {
    rec.flush();
    await Promise.all([lab?.engine.stop(), lab?.registry.stop(), lab?.tokenRegistry.stop(), lab?.echo.stop(), lab?.ecrRegistry.stop(), lab?.aws.stop(), lab?.tap.stop(), lab?.google.stop(), lab?.gcpRegistry.stop()]);
  });

  // Positive control: a step that leaks on purpose must be caught at every place the suite watches.
  const CONTROL = 'control: a deliberately leaky user step is caught in every place watched';
  rec.reserve(CONTROL);
  it(CONTROL, async () => {
    await rec.scenario(CONTROL, async (scenario) => {
      const job = labJob({ REG_PASS: SECRET.registryPassword });
      const script = [
        'echo "password is $REG_PASS"',
        'printf %s "$REG_PASS" | base64 >&2',
        'docker --config "$HOME/ctl" login -u x -p "$REG_PASS" 127.0.0.1:1 >/dev/null 2>&1 || true',
        // Lives long enough for any sampler pass (a fixed sleep here is the leak, not a wait).
        'sh -c "sleep 1" "$REG_PASS"',
        'echo "export LEAK=$REG_PASS" >> "$BASH_ENV"',
        'mkdir -p "$HOME/dir" && echo "$REG_PASS" > "$HOME/dir/leak.txt"',
        'f=$(mktemp /tmp/regauth-ctl-XXXXXX) && printf %s "ci:$REG_PASS" | base64 > "$f"',
      ].join('\n');
      const observation = await observe(orb, [{ job, command: '', params: {}, script }], { canaries: [{ label: 'registry password', value: SECRET.registryPassword }] });
      const places = new Set(observation.leaks.map((leak) => (leak.where.startsWith('/tmp/regauth-ctl-') ? 'new /tmp file' : leak.where.startsWith(job.cwd) ? 'file under HOME' : leak.where)));
      for (const leak of observation.leaks) if (leak.where.startsWith('/tmp/regauth-ctl-')) rmSync(leak.where, { force: true });
      const expected = ['stdout of step 1', 'stderr of step 1', 'argv of docker', '/proc cmdline', '$BASH_ENV', 'file under HOME', 'new /tmp file'];
      scenario.note(`${expected.filter((place) => places.has(place)).length} of ${expected.length} leak places caught`);
      expect([...places].sort()).toEqual([...expected].sort());
    });
  });

  for (const row of rows) {
    const present = row.needs in orb.commands;
    if (!present) {
      rec.skip(row.name, `regauth/${row.needs} is not in dist/orb.yml yet`);
      it.skip(`${row.name} (regauth/${row.needs} not built)`, () => undefined);
      continue;
    }
    rec.reserve(row.name);
    it(row.name, async () => {
      await rec.scenario(row.name, async (scenario) => {
        const attemptsBefore = row.attempts?.(lab) ?? 0;
        const prepared = (await row.prepare?.(lab)) ?? {};
        lab.tap.echo = row.stsEcho ?? false;
        const mintedBefore = lab.tap.minted.length;
        const job = labJob({
          DOCKER_HOST: lab.engine.dockerHost,
          REG_USER: 'ci',
          REG_PASS: SECRET.registryPassword,
          AWS_ACCESS_KEY_ID: SECRET.awsAccessKeyId,
          AWS_SECRET_ACCESS_KEY: SECRET.awsSecretAccessKey,
          CIRCLE_OIDC_TOKEN: SECRET.oidcToken,
          CIRCLE_OIDC_TOKEN_V2: SECRET.oidcToken,
          ...prepared.env,
          ...row.env,
        });
        row.setup?.(job);
        const canaries = [...baseCanaries, ...(row.extraCanaries ?? []), ...(prepared.canaries ?? [])];
        // Keys STS mints during a step become canaries before that step's output and files are searched.
        const withMinted = (): Canary[] => [
          ...canaries,
          ...lab.tap.minted.slice(mintedBefore).flatMap((keys) => [
            { label: 'STS access key id', value: keys.accessKeyId },
            { label: 'STS secret access key', value: keys.secretAccessKey },
            { label: 'STS session token', value: keys.sessionToken },
          ]),
          ...lab.google.issuedTokens().map(({ token, kind }) => ({ label: `Google ${kind} access token`, value: token })),
        ];
        const leaks: Leak[] = [];
        const failures: string[] = [];
        let invocations = 0;
        for (const step of row.steps) {
          const observation = await observe(orb, [{ job, command: step.command, params: step.params(lab) }], {
            canaries: withMinted,
            ...(prepared.mintable !== undefined ? { oidcToken: prepared.mintable } : {}),
          });
          const result = observation.results[0];
          if (!result) throw new Error('no result');
          leaks.push(...observation.leaks);
          invocations += observation.invocations.length;
          if (step.expect === 'ok') {
            if (result.exitCode !== 0) failures.push(`${step.command} failed: ${result.stderr}`);
          } else {
            const lines = stderrLines(result);
            if (result.exitCode === 0 || lines.length !== 1 || !step.expect.test(lines[0] ?? '')) {
              failures.push(`${step.command}: expected one line matching ${String(step.expect)}, got exit ${result.exitCode}: ${result.stderr}`);
            }
          }
        }
        const lost = row.keepsConfig === false ? [] : entriesLost(job);
        if (row.attempts) scenario.attempts(row.attempts(lab) - attemptsBefore);
        lab.tap.echo = false;
        scenario.tally({ secretsPlanted: withMinted().length, leaksFound: leaks.length, entriesLost: lost.length, invocationsRecorded: invocations });
        expect(leaks).toEqual([]);
        expect(failures).toEqual([]);
        expect(lost).toEqual([]);
        row.then?.(job, lab);
      });
    });
  }
});
