// Generates regauth's own CircleCI pipeline with the CircleCI Config SDK.
//
//   node --import tsx scripts/pipeline.ts          writes .circleci/config.yml and test-deploy.yml
//   node --import tsx scripts/pipeline.ts --check  exits 1 when the committed files differ
//
// Shape (after orb-tools): a setup config tests, builds, reviews, validates and publishes a dev
// orb `<namespace>/regauth@dev:<sha>`, then continues the pipeline with .circleci/test-deploy.yml,
// which uses that dev orb on a real machine (ECR through OIDC, Docker Hub, quay) and, on a
// vX.Y.Z tag only, publishes the very same orb source as <namespace>/regauth@X.Y.Z. The namespace
// and URLs come from package.json's "orb" (scripts/lib/orb-identity.ts).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sdk from '@circleci/circleci-config-sdk';
import { stringify } from 'yaml';
import { orbName, readOrbIdentity } from './lib/orb-identity.ts';
import { EXCLUDED_RULES } from './lib/review.ts';
import { repoRoot } from './lib/schema.ts';

const { Config, Job, Workflow } = sdk;
const { Checkout, Run } = sdk.commands;
const { Attach, Persist } = sdk.commands.workspace;
const { DockerExecutor, MachineExecutor } = sdk.executors;
const { ReusedCommand } = sdk.reusable;

const IDENTITY = readOrbIdentity(repoRoot);
export const ORB_NAME = orbName(IDENTITY);
/** Context that holds CIRCLECI_CLI_TOKEN, a token allowed to publish ORB_NAME. */
export const PUBLISH_CONTEXT = 'orb-publishing';
/** Production releases: tags like v1.2.3, never branches. */
export const RELEASE_TAG = '/^v\\d+\\.\\d+\\.\\d+$/';
export const CONFIG_PATH = '.circleci/config.yml';
export const TEST_DEPLOY_PATH = '.circleci/test-deploy.yml';

/** Integration settings; declared in both configs because CircleCI carries trigger-time values over. */
const INTEGRATION_PARAMETERS = [
  ['integration_context', 'regauth-integration', 'Context for the integration job: enables the OIDC token and holds DOCKERHUB_USER, DOCKERHUB_TOKEN, QUAY_ROBOT_USER, QUAY_ROBOT_TOKEN.'],
  ['ecr_role_arn', '${AWS_ROLE_ARN}', 'IAM role the integration job assumes through OIDC; the default reads AWS_ROLE_ARN from the context.'],
  ['ecr_region', 'us-east-1', 'Region of the ECR registry used by the integration job.'],
  ['ecr_image', '${REGAUTH_IT_ECR_IMAGE}', 'Private ECR image the integration job pulls; the default reads REGAUTH_IT_ECR_IMAGE from the context.'],
  ['dockerhub_image', 'library/alpine:3.20', 'Docker Hub image the integration job pulls after logging in.'],
  ['quay_image', 'quay.io/prometheus/busybox:latest', 'quay.io image the integration job pulls after logging in.'],
] as const;

type Cfg = InstanceType<typeof Config>;

function defineIntegrationParameters(config: Cfg): void {
  for (const [name, value, description] of INTEGRATION_PARAMETERS) config.defineParameter(name, 'string', value, description);
}

const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
const machine = () => new MachineExecutor('medium', 'ubuntu-2204:current');
const node = () => new DockerExecutor('cimg/node:20.19');
// The CLI image: `circleci orb validate/publish/source` read the token from CIRCLECI_CLI_TOKEN.
const cli = () => new DockerExecutor('circleci/circleci-cli:latest');
const run = (name: string, command: string) => new Run({ name, command });
const attachDist = () => new Attach({ at: '.' });
const onReleaseTagsToo = { tags: { only: [RELEASE_TAG] } };

function setupConfig(): Cfg {
  const config = new Config(true);
  defineIntegrationParameters(config);

  // .ci/run installs the system packages the suites need (docker, registry, skopeo…) and runs
  // `npm ci && npm test`; integration suites must not skip in CI.
  const test = new Job('test', machine(), [new Checkout(), run('Install system packages and run every test suite', 'sudo bash .ci/run')]);
  const build = new Job('build', node(), [
    new Checkout(),
    run('Install dependencies', 'npm ci'),
    run('Pack the orb into dist/orb.yml', 'npm run build'),
    new Persist({ root: '.', paths: ['dist/orb.yml'] }),
  ]);
  const review = new Job('review', node(), [
    new Checkout(),
    attachDist(),
    run('Install dependencies', 'npm ci'),
    run(
      `Review the orb: orb-tools RC001-RC012 (excluding ${Object.keys(EXCLUDED_RULES).join(', ')}: see scripts/lib/review.ts) and regauth's RG rules`,
      'npx vitest run test/tooling/lib/review.test.ts',
    ),
    // RC006 / RC007 as review.bats asks them: each display URL answers 200 (after redirects).
    run(
      'RC006, RC007: source_url and home_url answer 200',
      [
        `for url in ${shellQuote(IDENTITY.sourceUrl)} ${shellQuote(IDENTITY.homeUrl)}; do`,
        '  status="$(curl -s -L -o /dev/null -w \'%{http_code}\' --retry 5 --retry-delay 5 "$url")"',
        '  if [ "$status" != 200 ]; then echo "regauth: $url answered HTTP $status, not 200: set orb.sourceUrl / orb.homeUrl in package.json" >&2; exit 1; fi',
        'done',
      ].join('\n'),
    ),
  ]);
  const validate = new Job('validate', cli(), [
    attachDist(),
    run('Validate the packed orb with CircleCI', 'circleci orb validate dist/orb.yml --skip-update-check'),
  ]);
  const publishDev = new Job('publish-dev', cli(), [
    attachDist(),
    run(
      'Publish the dev orb for this commit',
      `circleci orb publish dist/orb.yml "${ORB_NAME}@dev:\${CIRCLE_SHA1}" --skip-update-check`,
    ),
  ]);
  // The continuation orb wraps POST /api/v2/pipeline/continue; only the new parameter is sent,
  // because parameters given at trigger time may not be passed again.
  const continuation = new sdk.orb.OrbImport('continuation', 'circleci', 'continuation', '1.1.0');
  config.importOrb(continuation);
  const continueJob = new Job('continue', new DockerExecutor('cimg/base:current'), [
    new Checkout(),
    new ReusedCommand('continuation/continue', {
      configuration_path: TEST_DEPLOY_PATH,
      parameters: '{"dev_orb_version": "dev:<< pipeline.git.revision >>"}',
    }),
  ]);

  for (const job of [test, build, review, validate, publishDev, continueJob]) config.addJob(job);
  const workflow = new Workflow('test-pack-publish-dev');
  workflow.addJob(test, { filters: onReleaseTagsToo });
  workflow.addJob(build, { filters: onReleaseTagsToo });
  workflow.addJob(review, { requires: ['build'], filters: onReleaseTagsToo });
  workflow.addJob(validate, { requires: ['build'], filters: onReleaseTagsToo });
  workflow.addJob(publishDev, {
    requires: ['test', 'review', 'validate'],
    context: [PUBLISH_CONTEXT],
    filters: onReleaseTagsToo,
  });
  workflow.addJob(continueJob, { requires: ['publish-dev'], filters: onReleaseTagsToo });
  config.addWorkflow(workflow);
  return config;
}

function testDeployConfig(): Cfg {
  const config = new Config();
  defineIntegrationParameters(config);
  config.defineParameter('dev_orb_version', 'string', 'dev:alpha', 'Dev orb label to test, set by the setup workflow.');
  config.importOrb(new sdk.orb.OrbImport('regauth', IDENTITY.namespace, IDENTITY.name, '<< pipeline.parameters.dev_orb_version >>'));

  const p = (name: string) => `<< pipeline.parameters.${name} >>`;
  const integration = new Job('integration', machine(), [
    new ReusedCommand('regauth/ecr-oidc-login', { role_arn: p('ecr_role_arn'), region: p('ecr_region') }),
    new ReusedCommand('regauth/login', { username: 'DOCKERHUB_USER', password: 'DOCKERHUB_TOKEN' }),
    new ReusedCommand('regauth/login', { registry: 'quay.io', username: 'QUAY_ROBOT_USER', password: 'QUAY_ROBOT_TOKEN' }),
    new ReusedCommand('regauth/pull', {
      images: `${p('ecr_image')},${p('dockerhub_image')},${p('quay_image')}`,
      max_attempts: 3,
    }),
    run('Check every image is present', `docker image inspect "${p('dockerhub_image')}" "${p('quay_image')}" >/dev/null`),
    new ReusedCommand('regauth/logout'),
    run(
      'Check no credential is left behind',
      [
        'config="${DOCKER_CONFIG:-$HOME/.docker}/config.json"',
        'if [ -f "$config" ] && grep -Eq \'"(quay.io|https://index.docker.io/v1/|[0-9]{12}\\.dkr\\.ecr\\.)\' "$config"; then',
        '  echo "credentials are still in $config after regauth/logout" >&2',
        '  exit 1',
        'fi',
      ].join('\n'),
    ),
  ]);
  // Publishes exactly the orb source the integration job used, after it passed.
  const publish = new Job('publish', cli(), [
    run(
      'Publish the tested dev orb as the release',
      [
        'version="${CIRCLE_TAG#v}"',
        `circleci orb source "${ORB_NAME}@dev:\${CIRCLE_SHA1}" --skip-update-check > orb.yml`,
        'circleci orb validate orb.yml --skip-update-check',
        `circleci orb publish orb.yml "${ORB_NAME}@\${version}" --skip-update-check`,
      ].join('\n'),
    ),
  ]);
  config.addJob(integration).addJob(publish);
  const workflow = new Workflow('integration-release');
  workflow.addJob(integration, { context: [p('integration_context')], filters: onReleaseTagsToo });
  workflow.addJob(publish, {
    requires: ['integration'],
    context: [PUBLISH_CONTEXT],
    filters: { tags: { only: [RELEASE_TAG] }, branches: { ignore: ['/.*/'] } },
  });
  config.addWorkflow(workflow);
  return config;
}

const HEADER = [
  'Generated by scripts/pipeline.ts with @circleci/circleci-config-sdk; do not edit.',
  'Regenerate: node --import tsx scripts/pipeline.ts',
].join('\n');

const KEY_ORDER = ['version', 'setup', 'orbs', 'parameters', 'executors', 'commands', 'jobs', 'workflows'];

/**
 * The SDK's object, serialised by us (the one post-processing step): a fixed header instead
 * of the SDK's version banner, no `setup: false` on the continuation config (the SDK always
 * writes the key), and top-level keys in the order people read configs.
 */
function render(config: Cfg): string {
  const generated = config.generate() as unknown as Record<string, unknown>;
  if (generated['setup'] === false) delete generated['setup'];
  const ordered = Object.fromEntries(
    Object.entries(generated).sort(([a], [b]) => rank(a) - rank(b)),
  );
  const body = stringify(ordered, { lineWidth: 0, aliasDuplicateObjects: false });
  return `${HEADER.replace(/^/gm, '# ')}\n${body}`;
}

function rank(key: string): number {
  const index = KEY_ORDER.indexOf(key);
  return index === -1 ? KEY_ORDER.length : index;
}

/** Every generated file, by path relative to the repository root. Pure and deterministic. */
export function generatePipeline(): Record<string, string> {
  return {
    [CONFIG_PATH]: render(setupConfig()),
    [TEST_DEPLOY_PATH]: render(testDeployConfig()),
  };
}

function readOrEmpty(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Paths whose committed text differs from the generated text. */
export function stalePipelineFiles(root: string = repoRoot): string[] {
  return Object.entries(generatePipeline())
    .filter(([file, text]) => readOrEmpty(path.join(root, file)) !== text)
    .map(([file]) => file);
}

/** `file:line: committed … / generated …` for the first line that differs. */
export function firstDifference(file: string, committed: string | undefined, generated: string): string {
  if (committed === undefined) return `${file}: missing; scripts/pipeline.ts generates it`;
  const a = committed.split('\n');
  const b = generated.split('\n');
  let line = 0;
  while (line < a.length && line < b.length && a[line] === b[line]) line += 1;
  return `${file}:${line + 1}: committed ${JSON.stringify(a[line] ?? '<end of file>')}, generated ${JSON.stringify(b[line] ?? '<end of file>')}`;
}

function main(argv: readonly string[]): number {
  if (argv.includes('--check')) {
    const stale = stalePipelineFiles();
    const generated = generatePipeline();
    for (const file of stale) console.error(firstDifference(file, readOrEmpty(path.join(repoRoot, file)), generated[file] ?? ''));
    if (stale.length > 0) console.error('Run: node --import tsx scripts/pipeline.ts');
    return stale.length > 0 ? 1 : 0;
  }
  for (const [file, text] of Object.entries(generatePipeline())) {
    const target = path.join(repoRoot, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, text);
    console.log(`wrote ${file}`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
