/**
 * npm run demo: the main job on a local default. Starts a real docker-registry (TLS + htpasswd),
 * a second one with token auth, a real dockerd, and a local AWS (OIDC issuer, STS, ECR that check
 * JWTs and SigV4), a local Google (STS token exchange and IAM Credentials, trusting the same
 * CircleCI issuer) with a token-auth registry standing in for Artifact Registry, seeds images, then
 * runs the packed dist/orb.yml's commands the way CircleCI would: ecr-oidc-login → gcp-oidc-login →
 * login → pull → logout. Everything listens on 127.0.0.1 and is stopped by pid at the end.
 */
import { join } from 'node:path';
import { startLocalAws, type LocalAws } from '../testbed/aws/index.ts';
import { startLocalGoogle } from '../testbed/gcp/index.ts';
import { startEngine } from '../testbed/engine.ts';
import { fakeCircleci } from '../testbed/fake-circleci.ts';
import { seedImage } from '../testbed/images.ts';
import { startRegistry } from '../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type ParameterValue } from '../testbed/step-runner.ts';
import { missingTools } from '../testbed/tools.ts';

const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ci-pull`;
const SERVICE_ACCOUNT = 'ci-pull@acme-project.iam.gserviceaccount.com';
const SEEDER = { username: 'seeder', password: `demo-seeder-${process.pid}` };

async function main(): Promise<number> {
  const missing = missingTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);
  if (missing.length > 0) {
    console.error(`missing: ${missing.join(', ')} — run: bash scripts/install-system-packages.sh (as root)`);
    return 1;
  }
  const started: { stop(): Promise<void> }[] = [];
  try {
    const ecrPassword = `demo-ecr-${process.pid}`;
    const [ecrRegistry, hubLike, engine] = await Promise.all([
      startRegistry({ auth: 'htpasswd', users: { AWS: ecrPassword } }),
      startRegistry({ auth: 'token', users: { 'org+robot': 'demo-robot-token' } }),
      startEngine(),
    ]);
    started.push(ecrRegistry, hubLike, engine);
    const aws: LocalAws = await startLocalAws({
      roles: { [ROLE]: { subPattern: 'org/*', accounts: [ACCOUNT] } },
      ecrPassword,
      proxyEndpoints: { [ACCOUNT]: ecrRegistry.url },
    });
    started.push(aws);
    // One CircleCI org's token serves both clouds: the local Google trusts the local AWS's issuer.
    // The provider as the README sets it up: google.subject from the project id, so a v2 token fits.
    const projectId = "assertion['oidc.circleci.com/project-id']";
    const google = await startLocalGoogle({ issuer: aws.issuer, attributeMapping: { 'google.subject': projectId, 'attribute.project': projectId } });
    started.push(google);
    google.setServiceAccount(SERVICE_ACCOUNT, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    const readers = google.registryAuth([`serviceAccount:${SERVICE_ACCOUNT}`]);
    const artifactRegistry = await startRegistry({
      auth: 'token',
      users: { [SEEDER.username]: SEEDER.password },
      token: {
        authenticate: readers.authenticate,
        authorize: (user, scope) => (user === SEEDER.username ? scope.actions : readers.authorize(user, scope)),
      },
    });
    started.push(artifactRegistry);
    const [api, worker, tool] = await Promise.all([
      seedImage(ecrRegistry, { name: 'app/api', tag: '1.4.2', sizeBytes: 2_000_000, as: { username: 'AWS', password: ecrPassword } }),
      seedImage(ecrRegistry, { name: 'app/worker', tag: '2.0.0', sizeBytes: 2_000_000, as: { username: 'AWS', password: ecrPassword } }),
      seedImage(hubLike, { name: 'team/tool', tag: 'v1', sizeBytes: 1_000_000 }),
    ]);
    const gcpImage = await seedImage(artifactRegistry, { name: 'acme-project/images/worker', tag: '3.1', sizeBytes: 1_000_000, as: SEEDER });
    section(`local stack: ECR-like registry ${ecrRegistry.host} (htpasswd, TLS), token-auth registry ${hubLike.host}, dockerd ${engine.dockerHost}, STS/ECR ${aws.urls.sts}, Google STS ${google.urls.sts}, Artifact Registry-like ${artifactRegistry.host} (token auth, oauth2accesstoken)`);

    const job = newJob({
      ...aws.endpointEnv(),
      ...google.endpointEnv(),
      GCP_WORKLOAD_IDENTITY_PROVIDER: google.providerName,
      GCP_SERVICE_ACCOUNT: SERVICE_ACCOUNT,
      CIRCLE_OIDC_TOKEN_V2: await aws.mintToken(),
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ROLE_ARN: ROLE,
      DOCKER_HOST: engine.dockerHost,
      ROBOT_USER: 'org+robot',
      ROBOT_TOKEN: 'demo-robot-token',
    });
    job.env.DOCKER_CONFIG = join(job.cwd, 'docker-config');
    // A stand-in for the circleci CLI (the real one mints only inside a CircleCI job): it mints job
    // tokens from the local issuer, so the credential helper could refresh later in the job.
    job.env.PATH = `${fakeCircleci(aws.mintUrl).dir}:${job.env.PATH ?? ''}`;
    const orb = loadOrb();
    const step = async (name: string, params: Record<string, ParameterValue>): Promise<boolean> => {
      section(`regauth/${name} ${JSON.stringify(params)}`);
      const began = Date.now();
      const result = await runOrbCommand(orb, name, params, job);
      process.stdout.write(result.stdout);
      process.stdout.write(result.stderr);
      console.log(`→ exit ${result.exitCode} in ${((Date.now() - began) / 1000).toFixed(2)} s`);
      return result.exitCode === 0;
    };

    const ok =
      (await step('ecr-oidc-login', {})) &&
      (await step('gcp-oidc-login', { registries: artifactRegistry.host })) &&
      (await step('login', { registry: hubLike.host, username: 'ROBOT_USER', password: 'ROBOT_TOKEN' })) &&
      (await step('pull', { images: `${api.ref}, ${worker.ref}\n${tool.ref}\n${gcpImage.ref}` }));
    await step('logout', {});
    section('after logout, docker pull is refused again');
    await runUserStep(job, 'docker rmi -f "$IMAGE" >/dev/null', { IMAGE: tool.ref });
    const again = await runUserStep(job, 'docker pull -q "$IMAGE"', { IMAGE: tool.ref });
    console.log(again.exitCode === 0 ? 'unexpected: pull still works' : `refused: ${again.stderr.trim().split('\n').pop() ?? ''}`);
    return ok && again.exitCode !== 0 ? 0 : 1;
  } finally {
    await Promise.allSettled(started.reverse().map((server) => server.stop()));
  }
}

function section(title: string): void {
  console.log(`\n=== ${title}`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
