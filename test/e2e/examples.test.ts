import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOrbUsage } from '../../scripts/lib/review.ts';
import { validateConfig } from '../../scripts/lib/schema.ts';
import { readPullInputs } from '../../src/inputs/pull.ts';
import { isDockerHub, mirrorReference, type ImageReference } from '../../src/registry/reference.ts';
import { startLocalAws, type LocalAws } from '../../testbed/aws/index.ts';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { installComposeStandIn } from '../support/compose.ts';
import { startConnectProxy, type Backend, type ConnectProxy } from '../../testbed/connect-proxy.ts';
import { inspectImage, removeAllImages, startEngine, type Engine } from '../../testbed/engine.ts';
import { seedImage } from '../../testbed/images.ts';
import { startRegistry, testPki, type Registry } from '../../testbed/registry.ts';
import { compileCommand, loadOrb, newJob, runOrbCommand, type CommandResult, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { makeTempDir, type TempDir } from '../../testbed/tempdir.ts';
import { issueHostCertificate, SYSTEM_BUNDLES, writeCaBundle, type HostCertificate } from '../../testbed/tls-hosts.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * Every example of the packed dist/orb.yml (orb/examples/*.yml) validates as a config, and its
 * regauth/* steps run in order, with the example's own parameters, through the packed orb,
 * against local stand-ins for the real hosts it names. The docker CLI, dockerd and regauth reach
 * quay.io, registry-1.docker.io, us-docker.pkg.dev, *.dkr.ecr.*.amazonaws.com and public.ecr.aws
 * through HTTPS_PROXY: a CONNECT proxy on 127.0.0.1 that routes only those names to local
 * registries, presenting a certificate for them that docker verifies (SSL_CERT_FILE), and refuses
 * every other host. AWS calls go to the local stack through AWS_ENDPOINT_URL_*, Google calls to the
 * local Google (trusting the same CircleCI issuer) through CLOUDSDK_API_ENDPOINT_OVERRIDES_*; the example's
 * `audience` is minted by a FAKE circleci CLI. Steps that are not regauth's are skipped and named.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl', 'docker-compose']);

const HUB_HOST = 'registry-1.docker.io';
/** regauth's Docker Hub budget probe asks this token service; no stand-in exists for it. */
const HUB_AUTH_HOST = 'auth.docker.io';
const ECR_PASSWORD = 'ecr-example-password-4c1d';
const ECR_PUBLIC_PASSWORD = 'ecr-public-example-password-93aa';
const STATIC_KEYS = { accessKeyId: 'AKIAREGAUTHEXAMPLES1', secretAccessKey: 'examples+static/secret/0a1b2c3d4e5f', account: '123456789012' };
const HUB_ACCOUNT = { user: 'acme-ci', token: 'dckr_pat_example-fake-token-5e2b' };
const QUAY_ROBOT = { user: 'acme+ci', token: 'QUAYFAKEROBOTTOKEN0F9E8D7C' };
/** A FAKE Google service-account key: the shape regauth checks, no real key material. */
const GCP_KEY = JSON.stringify({
  type: 'service_account',
  project_id: 'acme-project',
  private_key_id: '0000000000000000000000000000000000fake00',
  private_key: '-----BEGIN PRIVATE KEY-----\nFAKE-KEY-FOR-REGAUTH-TESTS-ONLY\n-----END PRIVATE KEY-----\n',
  client_email: 'ci-pull@acme-project.iam.gserviceaccount.com',
  client_id: '000000000000000000000',
  token_uri: 'https://oauth2.googleapis.com/token',
});
const OIDC_AUDIENCE_ROLE = 'arn:aws:iam::111111111111:role/circleci-ecr-pull';
const OIDC_DEFAULT_ROLE = 'arn:aws:iam::123456789012:role/circleci-ecr-pull';
const GCP_PROVIDER = 'projects/123456789/locations/global/workloadIdentityPools/circleci/providers/acme-org';
const GCP_SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const NO_DAEMON = 'unix:///tmp/regauth-examples-no-daemon.sock';

/** What each context named in the examples' workflows holds. */
const CONTEXTS: Readonly<Record<string, Record<string, string>>> = {
  dockerhub: { DOCKERHUB_USER: HUB_ACCOUNT.user, DOCKERHUB_TOKEN: HUB_ACCOUNT.token },
  quay: { QUAY_ROBOT_USER: QUAY_ROBOT.user, QUAY_ROBOT_TOKEN: QUAY_ROBOT.token },
  'gcp-artifact-registry': { GCP_SERVICE_ACCOUNT_KEY: GCP_KEY },
  'aws-static-keys': { ECR_PULL_ACCESS_KEY_ID: STATIC_KEYS.accessKeyId, ECR_PULL_SECRET_ACCESS_KEY: STATIC_KEYS.secretAccessKey },
  'aws-oidc': {},
  'gcp-oidc': { GCP_WORKLOAD_IDENTITY_PROVIDER: GCP_PROVIDER },
};
const SECRETS = [ECR_PASSWORD, ECR_PUBLIC_PASSWORD, STATIC_KEYS.secretAccessKey, HUB_ACCOUNT.token, QUAY_ROBOT.token, GCP_KEY, 'FAKE-KEY-FOR-REGAUTH-TESTS-ONLY'];

/** docker config keys each example leaves logged in (empty: it ends with regauth/logout). */
const EXPECTED_LOGINS: Readonly<Record<string, readonly string[]>> = {
  aws_cli_after_ecr_login: [],
  docker_executor_remote_docker: [],
  gcp_export_credentials_gcloud: [],
  long_job_with_refresh: [],
  pull_compose_services: [],
  dockerhub_access_token: ['https://index.docker.io/v1/'],
  ecr_oidc_two_accounts_custom_audience: [],
  ecr_static_keys: ['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'public.ecr.aws'],
  gcp_oidc_artifact_registry: [],
  gcp_oidc_direct_access: ['us-docker.pkg.dev'],
  gcr_artifact_registry: ['us-docker.pkg.dev'],
  logout_always: [],
  pull_with_mirror: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'],
  quay_robot: ['quay.io'],
};

/**
 * The files a checkout would hold for examples that read them (compose_files), and the images
 * those files name, which the example's pull must bring in beside its `images`.
 */
const CHECKOUT_FILES: Readonly<Record<string, { files: Record<string, string>; images: string[] }>> = {
  pull_compose_services: {
    files: {
      'docker-compose.yml': 'version: "3.8"\nservices:\n  api:\n    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app/api:${API_TAG:-1.4.2}\n  web:\n    build: .\n',
      'docker-compose.ci.yml': 'version: "3.8"\nservices:\n  cache:\n    image: cimg/redis:7.4\n',
    },
    images: ['123456789012.dkr.ecr.us-east-1.amazonaws.com/app/api:1.4.2', 'cimg/redis:7.4'],
  },
};

type StandIn = 'hub' | 'hubAnonymous' | 'quay' | 'gar' | 'ecrA' | 'ecrB' | 'ecrUs' | 'ecrPublic';
/** Real host → the local registry standing in for it (Docker Hub's is chosen per example). */
const HOSTS: Readonly<Record<string, StandIn>> = {
  'quay.io': 'quay',
  'us-docker.pkg.dev': 'gar',
  '111111111111.dkr.ecr.eu-west-1.amazonaws.com': 'ecrA',
  '222222222222.dkr.ecr.eu-west-1.amazonaws.com': 'ecrB',
  '123456789012.dkr.ecr.us-east-1.amazonaws.com': 'ecrUs',
  'public.ecr.aws': 'ecrPublic',
};

interface Example {
  description: string;
  usage: {
    jobs: Record<string, { environment?: Record<string, string>; steps: unknown[] }>;
    workflows: Record<string, { jobs: unknown[] }>;
  };
}

interface Step {
  /** `regauth/NAME` → NAME, undefined for a step that is not regauth's. */
  command: string | undefined;
  label: string;
  params: Record<string, ParameterValue>;
}

/** A job step as the example writes it (pure). */
function readStep(step: unknown): Step {
  const [key, value] = typeof step === 'string' ? [step, undefined] : (Object.entries(step as object)[0] ?? ['?', undefined]);
  const params = (value ?? {}) as Record<string, ParameterValue>;
  if (key.startsWith('regauth/')) return { command: key.slice('regauth/'.length), label: key, params };
  const name = key === 'run' && typeof value === 'object' ? (value as { name?: string }).name : undefined;
  return { command: undefined, label: name === undefined ? key : `run "${name}"`, params };
}

/** Context names the example's workflows give `job` (pure). */
function contextsOf(example: Example, job: string): string[] {
  const names: string[] = [];
  for (const workflow of Object.values(example.usage.workflows)) {
    for (const entry of workflow.jobs) {
      if (typeof entry !== 'object' || entry === null) continue;
      const settings = (entry as Record<string, { context?: string | string[] }>)[job];
      if (settings?.context !== undefined) names.push(...[settings.context].flat());
    }
  }
  return names;
}

/** The images a pull step brings in: its `images`, and for compose_files those the checkout's files name. */
const pullImages = (step: Step, example?: string): { images: ImageReference[]; mirror: string | undefined } => {
  const fromCompose = step.params.compose_files === undefined ? [] : (CHECKOUT_FILES[example ?? '']?.images ?? []);
  const inputs = readPullInputs({ REGAUTH_IMAGES: [String(step.params.images ?? ''), ...fromCompose].join(','), REGAUTH_MIRROR: String(step.params.mirror ?? '') });
  return { images: inputs.images, mirror: inputs.mirror };
};

const orb: Orb | undefined = enabled ? loadOrb() : undefined;
const examples = (orb?.examples ?? {}) as Record<string, Example>;

describe.runIf(enabled)('orb examples through the packed orb, against local stand-ins for their hosts', () => {
  const packed = orb as Orb;
  let hostCert: HostCertificate;
  let proxy: ConnectProxy;
  let engine: Engine;
  let aws: LocalAws;
  let google: LocalGoogle;
  /** Artifact Registry's stand-in takes oauth2accesstoken with a token the local Google issued. */
  let garHooks: ReturnType<LocalGoogle['registryAuth']> | undefined;
  let bundle: string;
  let scratch: TempDir;
  const registries = new Map<StandIn, Registry>();
  /** normalized reference → digest of the image seeded under it. */
  const seeded = new Map<string, string>();

  const standInFor = (domain: string): StandIn => (domain === 'docker.io' ? 'hub' : (HOSTS[domain] ?? fail(`no stand-in for ${domain}`)));
  const fail = (message: string): never => {
    throw new Error(message);
  };
  const backend = (name: StandIn): Backend => ({ port: Number(registries.get(name)?.host.split(':')[1]), tls: true });

  beforeAll(async () => {
    const pki = await testPki();
    hostCert = await issueHostCertificate([...Object.keys(HOSTS), HUB_HOST]);
    scratch = makeTempDir('regauth-examples-');
    bundle = writeCaBundle(join(scratch.path, 'ca-bundle.pem'), hostCert.caPem);
    proxy = await startConnectProxy({ certPem: hostCert.certPem, keyPem: hostCert.keyPem, backendCaPem: pki.caPem });
    engine = await startEngineWithEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1,localhost', SSL_CERT_FILE: bundle });

    const hub = await startRegistry({ auth: 'htpasswd', users: { [HUB_ACCOUNT.user]: HUB_ACCOUNT.token } });
    const started = await Promise.all([
      startRegistry({ auth: 'none', storageDir: hub.storageDir }),
      startRegistry({ auth: 'token', users: { [QUAY_ROBOT.user]: QUAY_ROBOT.token } }),
      startRegistry({
        auth: 'token',
        users: { _json_key: GCP_KEY },
        token: { authenticate: (user, password) => garHooks?.authenticate(user, password), authorize: (user, scope) => (user === '_json_key' ? scope.actions : (garHooks?.authorize(user, scope) ?? [])) },
      }),
      ...[1, 2, 3].map(() => startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PASSWORD } })),
      startRegistry({ auth: 'htpasswd', users: { AWS: ECR_PUBLIC_PASSWORD } }),
    ]);
    registries.set('hub', hub);
    (['hubAnonymous', 'quay', 'gar', 'ecrA', 'ecrB', 'ecrUs', 'ecrPublic'] as const).forEach((name, i) => registries.set(name, started[i] as Registry));
    for (const [host, name] of Object.entries(HOSTS)) proxy.setRoute(host, backend(name));

    // Seed every image the examples pull; a mirror gets all its Docker Hub images but the last,
    // so the example also shows the fall-back to Docker Hub.
    const seeds = new Map<string, { registry: Registry; ref: ImageReference }>();
    for (const [exampleName, example] of Object.entries(examples)) {
      for (const job of Object.values(example.usage.jobs)) {
        for (const step of job.steps.map(readStep).filter((s) => s.command === 'pull')) {
          const { images, mirror } = pullImages(step, exampleName);
          for (const ref of images) seeds.set(ref.normalized, { registry: registries.get(standInFor(ref.domain)) as Registry, ref });
          if (mirror === undefined) continue;
          for (const ref of images.filter(isDockerHub).slice(0, -1)) {
            const mirrored = mirrorReference(ref, mirror);
            seeds.set(mirrored.normalized, { registry: registries.get(standInFor(mirrored.domain)) as Registry, ref: mirrored });
          }
        }
      }
    }
    await Promise.all(
      [...seeds].map(async ([normalized, { registry, ref }]) => {
        seeded.set(normalized, (await seedImage(registry, { name: ref.path, tag: ref.tag ?? 'latest' })).digest);
      }),
    );

    aws = await startLocalAws({
      roles: {
        [OIDC_AUDIENCE_ROLE]: { aud: 'sts.amazonaws.com', subPattern: 'org/*', accounts: ['111111111111', '222222222222'] },
        [OIDC_DEFAULT_ROLE]: { subPattern: 'org/*' },
      },
      providerAudiences: ['sts.amazonaws.com'],
      staticKeys: [STATIC_KEYS],
      ecrPassword: ECR_PASSWORD,
      ecrPublicPassword: ECR_PUBLIC_PASSWORD,
      proxyEndpoints: Object.fromEntries(Object.keys(HOSTS).filter((h) => h.includes('.dkr.ecr.')).map((h) => [h.slice(0, 12), `https://${h}`])),
    });
    // The README's provider: the org's issuer, its id as audience, a mapping for v1 and v2 tokens.
    google = await startLocalGoogle({
      issuer: aws.issuer,
      projectNumber: '123456789',
      pool: 'circleci',
      provider: 'acme-org',
      attributeMapping: { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" },
      attributeCondition: `assertion.aud == '${aws.orgId}'`,
    });
    google.setServiceAccount(GCP_SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    garHooks = google.registryAuth([`serviceAccount:${GCP_SA}`, google.projectPrincipalSet()]);
  });

  afterAll(async () => {
    await Promise.all([engine?.stop(), aws?.stop(), google?.stop(), ...[...registries.values()].map((r) => r.stop())]);
    await proxy?.stop();
    await Promise.all([hostCert?.remove(), scratch?.remove()]);
  });

  /** A CircleCI job of `example`: its contexts' variables, its own environment, docker's proxy. */
  async function jobFor(example: Example, jobName: string, dockerHost: string): Promise<JobContext> {
    const contextVars = Object.assign({}, ...contextsOf(example, jobName).map((name) => CONTEXTS[name] ?? fail(`no stand-in values for context ${name}`))) as Record<string, string>;
    const context = newJob({
      ...contextVars,
      ...example.usage.jobs[jobName]?.environment,
      ...aws.endpointEnv(),
      ...google.endpointEnv(),
      // CircleCI gives every job that uses a context an OIDC token.
      CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(),
      DOCKER_HOST: dockerHost,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: '127.0.0.1,localhost',
      SSL_CERT_FILE: bundle,
      NODE_EXTRA_CA_CERTS: hostCert.caFile,
    });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    const checkout = CHECKOUT_FILES[exampleName(example)];
    if (checkout !== undefined) {
      for (const [file, text] of Object.entries(checkout.files)) writeFileSync(join(context.cwd, file), text);
      installComposeStandIn(context.env.DOCKER_CONFIG);
    }
    return context;
  }
  const exampleName = (example: Example): string => Object.entries(examples).find(([, e]) => e === example)?.[0] ?? '';

  /** Hosts with a fixed password in config.json, and hosts regauth's credential helper serves (refresh: true). */
  function dockerLogins(context: JobContext): string[] {
    const file = join(context.env.DOCKER_CONFIG ?? '', 'config.json');
    if (!existsSync(file)) return [];
    const config = JSON.parse(readFileSync(file, 'utf8')) as { auths?: object; credHelpers?: Record<string, string> };
    const served = Object.entries(config.credHelpers ?? {}).filter(([, helper]) => helper === 'regauth').map(([host]) => host);
    return [...new Set([...Object.keys(config.auths ?? {}), ...served])].sort();
  }

  it('has examples, each a valid config whose regauth calls match the packed orb', () => {
    expect(Object.keys(examples).sort()).toEqual(Object.keys(EXPECTED_LOGINS).sort());
    for (const [name, example] of Object.entries(examples)) {
      expect(validateConfig(example.usage), name).toEqual([]);
      expect(checkOrbUsage(packed, example.usage), name).toEqual([]);
    }
  });

  it('docker checks the certificate the proxy presents: without the test CA, logging in to quay.io is refused', async () => {
    const context = newJob({ DOCKER_HOST: NO_DAEMON, HTTPS_PROXY: proxy.url, SSL_CERT_FILE: SYSTEM_BUNDLES.find((file) => existsSync(file)) ?? '', Q_USER: QUAY_ROBOT.user, Q_TOKEN: QUAY_ROBOT.token });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    const result = await runOrbCommand(packed, 'login', { registry: 'quay.io', username: 'Q_USER', password: 'Q_TOKEN' }, context);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/^regauth: login: could not log in to quay\.io as acme\+ci: .*x509: certificate signed by unknown authority"?$/m);
    expect(dockerLogins(context)).toEqual([]);
  });

  it.each(Object.keys(examples).sort())('%s: its regauth steps run in order and do what it says', async (name) => {
    const example = examples[name] as Example;
    const expectedLogins = EXPECTED_LOGINS[name] ?? fail(`no expectations for example ${name}`);
    await removeAllImages(engine);
    proxy.clearLog();
    for (const [jobName, job] of Object.entries(example.usage.jobs)) {
      const steps = job.steps.map(readStep);
      const context = await jobFor(example, jobName, engine.dockerHost);
      // Docker Hub answers anonymous pulls; the account's registry stands in when the job logs in.
      const logsInToHub = steps.some((s) => s.command === 'login' && ['docker.io', 'index.docker.io', 'registry-1.docker.io', undefined].includes(s.params.registry as string | undefined));
      proxy.setRoute(HUB_HOST, backend(logsInToHub ? 'hub' : 'hubAnonymous'));
      const audiences = steps.filter((s) => s.command === 'ecr-oidc-login' && s.params.audience).map((s) => String(s.params.audience));
      const circleci = audiences.length > 0 ? await fakeCircleci(scratch.path, context, aws, audiences) : undefined;
      aws.resetCounters();
      google.resetCounters();

      const skipped: string[] = [];
      const ran: { label: string; result: CommandResult }[] = [];
      for (const step of steps) {
        if (step.command === undefined) {
          skipped.push(step.label);
          continue;
        }
        // After a failed step CircleCI runs only the steps whose run steps say `when: always`.
        const failed = ran.some((r) => r.result.exitCode !== 0);
        if (failed && !compileCommand(packed, step.command, step.params).every((s) => (s as { run?: { when?: string } }).run?.when === 'always')) continue;
        ran.push({ label: step.label, result: await runOrbCommand(packed, step.command, step.params, context) });
      }
      const output = ran.map((r) => `${r.result.stdout}${r.result.stderr}`).join('');
      const refused = [...new Set(proxy.connects.filter((c) => c.outcome === 'refused').map((c) => c.host))];
      console.log(`${name}/${jobName}: ran ${ran.map((r) => r.label).join(', ')}; skipped (not regauth's) ${skipped.join(', ') || 'none'}; proxy refused ${refused.join(', ') || 'nothing'}`);
      for (const { label, result } of ran) expect(result.exitCode, `${label}\n${result.stdout}\n${result.stderr}`).toBe(0);
      expect(ran.map((r) => r.label)).toEqual(steps.filter((s) => s.command !== undefined).map((s) => s.label));

      for (const secret of [...SECRETS, ...google.issuedTokens().map((t) => t.token), context.env.CIRCLE_OIDC_TOKEN_V2 ?? '']) expect(output.includes(secret), 'a secret was printed').toBe(false);
      expect(dockerLogins(context)).toEqual([...expectedLogins].sort());
      if (circleci) expect(circleci.calls()).toEqual(audiences.map((aud) => `run oidc get --claims ${JSON.stringify({ aud })}`));
      // Only examples that export credentials write to BASH_ENV, and never a secret: variable names and paths.
      const bashEnv = readFileSync(context.bashEnvFile, 'utf8');
      const exports = steps.filter((s) => s.params.export_credentials === true).map((s) => s.command);
      if (exports.length === 0) expect(bashEnv).toBe('');
      if (exports.includes('ecr-oidc-login')) expect(bashEnv).toMatch(/AWS_PROFILE/);
      if (exports.includes('gcp-oidc-login')) expect(bashEnv).toMatch(/GOOGLE_APPLICATION_CREDENTIALS/);
      for (const secret of [...SECRETS, ...google.issuedTokens().map((t) => t.token), context.env.CIRCLE_OIDC_TOKEN_V2 ?? '']) expect(bashEnv.includes(secret), 'a secret reached BASH_ENV').toBe(false);

      // AWS saw exactly the example's role, duration, region, accounts and ECR Public choice.
      const ecrSteps = steps.filter((s) => s.command === 'ecr-oidc-login' || s.command === 'ecr-login');
      const answered = aws.log.filter((e) => e.status === 200);
      expect(answered.filter((e) => e.service === 'sts').map((e) => [e.roleArn, e.durationSeconds])).toEqual(
        ecrSteps.filter((s) => s.command === 'ecr-oidc-login').map((s) => [s.params.role_arn, s.params.session_duration ?? 3600]),
      );
      expect(answered.filter((e) => e.service === 'ecr').map((e) => [e.region, e.registryIds ?? []])).toEqual(
        ecrSteps.map((s) => [s.params.region, s.params.account_ids === undefined ? [] : String(s.params.account_ids).split(',')]),
      );
      expect(answered.filter((e) => e.service === 'ecr-public')).toHaveLength(ecrSteps.filter((s) => s.params.public === true).length);
      // Google saw one token exchange per gcp-oidc-login step, and impersonation of exactly the accounts they name.
      const gcpSteps = steps.filter((s) => s.command === 'gcp-oidc-login');
      expect(google.log.filter((e) => e.service === 'sts' && e.status === 200)).toHaveLength(gcpSteps.length);
      expect(google.log.filter((e) => e.service === 'iam' && e.status === 200).map((e) => e.serviceAccount)).toEqual(gcpSteps.map((s) => s.params.service_account).filter(Boolean));

      for (const step of steps.filter((s) => s.command === 'pull')) {
        const { images, mirror } = pullImages(step, name);
        for (const ref of images) {
          const fromMirror = mirror !== undefined && isDockerHub(ref) ? mirrorReference(ref, mirror).normalized : undefined;
          const digest = (fromMirror !== undefined ? seeded.get(fromMirror) : undefined) ?? seeded.get(ref.normalized);
          const local = await inspectImage(engine, ref.normalized);
          expect(local, `${ref.normalized} is in the engine`).toBeDefined();
          expect(local?.repoDigests.some((d) => d.endsWith(`@${digest ?? '?'}`)), `${ref.normalized} came from ${fromMirror !== undefined && seeded.has(fromMirror) ? 'the mirror' : 'its registry'}`).toBe(true);
          expect(output).toContain(ref.normalized);
        }
        expect(output).toMatch(/^IMAGE +DIGEST +SECONDS +SIZE +ATTEMPTS$/m);
      }

      // Nothing left the machine: the only refused host is Docker Hub's token service, which
      // regauth's informational budget probe asks (no stand-in answers for it).
      expect(refused.filter((host) => host !== HUB_AUTH_HOST)).toEqual([]);
      if (refused.includes(HUB_AUTH_HOST)) expect(output).toMatch(/Docker Hub pull budget: could not be read \(the proxy 127\.0\.0\.1:\d+ refused CONNECT to auth\.docker\.io:443 \(HTTP 403\)\); continuing/);
    }
  });
});

/**
 * startEngine() starts dockerd with this process's environment and has no env option of its own:
 * the proxy and CA settings are set only while it starts, with nothing else starting meanwhile.
 */
async function startEngineWithEnv(env: Record<string, string>): Promise<Engine> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await startEngine();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/**
 * FAKE `circleci` first on PATH (the real CLI only works inside a CircleCI job): answers
 * `circleci run oidc get --claims {"aud":…}` for the example's audiences with a token the local
 * issuer minted, records its arguments (never secret), refuses anything else.
 */
async function fakeCircleci(parent: string, context: JobContext, aws: LocalAws, audiences: readonly string[]): Promise<{ calls: () => string[] }> {
  const dir = join(parent, `fake-circleci-${context.env.CIRCLE_BUILD_NUM ?? ''}`);
  mkdirSync(dir, { mode: 0o700 });
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  const cases: string[] = [];
  for (const [i, aud] of audiences.entries()) {
    const tokenFile = join(dir, `token-${i}`);
    writeFileSync(tokenFile, await aws.mintToken({ aud }), { mode: 0o600 });
    cases.push(`if [ "$#" -eq 5 ] && [ "$1 $2 $3 $4" = 'run oidc get --claims' ] && [ "$5" = ${q(JSON.stringify({ aud }))} ]; then cat ${q(tokenFile)}; exit 0; fi`);
  }
  const script = [
    '#!/bin/bash',
    '# FAKE circleci CLI for the regauth example tests; it is not the CircleCI CLI.',
    `printf '%s\\n' "$*" >> ${q(log)}`,
    'if [ "$#" -eq 1 ] && [ "$1" = version ]; then echo "0.1.0-fake-for-tests"; exit 0; fi',
    ...cases,
    'echo "fake circleci: unexpected arguments: $*" >&2; exit 64',
    '',
  ].join('\n');
  // On PATH as CircleCI's jobs have it: `circleci`, a link to the agent (src/job-token/agent.ts).
  mkdirSync(join(dir, 'bin'), { mode: 0o700 });
  writeFileSync(join(dir, 'circleci-agent'), script);
  chmodSync(join(dir, 'circleci-agent'), 0o755);
  symlinkSync(join(dir, 'circleci-agent'), join(dir, 'bin', 'circleci'));
  context.env.PATH = `${join(dir, 'bin')}:${context.env.PATH ?? ''}`;
  return { calls: () => readFileSync(log, 'utf8').split('\n').filter((line) => line !== '' && line !== 'version') };
}
