// Parsed YAML is explored freely here; its shape is what the assertions check.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_PATH, RELEASE_TAG, TEST_DEPLOY_PATH, firstDifference, generatePipeline, stalePipelineFiles } from '../../scripts/pipeline.ts';
import { checkOrbUsage } from '../../scripts/lib/review.ts';
import { validateConfig } from '../../scripts/lib/schema.ts';

const root = resolve(import.meta.dirname, '..', '..');
const generated = generatePipeline();
type Config = Record<string, any>;
const setup = parse(generated[CONFIG_PATH] ?? '') as Config;
const testDeploy = parse(generated[TEST_DEPLOY_PATH] ?? '') as Config;

const BUILT_IN_STEPS = new Set(['checkout', 'run', 'persist_to_workspace', 'attach_workspace', 'store_artifacts', 'store_test_results', 'save_cache', 'restore_cache', 'setup_remote_docker', 'add_ssh_keys', 'when', 'unless']);
const CONTRACT_COMMANDS = new Set(['login', 'ecr-oidc-login', 'ecr-login', 'pull', 'logout']);

/** Workflow jobs as [name, settings]. */
function workflowJobs(config: Config): [string, Record<string, any>][] {
  return Object.values(config['workflows'] as Record<string, { jobs: unknown[] }>).flatMap((workflow) =>
    workflow.jobs.map((entry): [string, Record<string, any>] =>
      typeof entry === 'string' ? [entry, {}] : (Object.entries(entry as object)[0] as [string, Record<string, any>]),
    ),
  );
}

function stepNames(job: { steps: unknown[] }): string[] {
  return job.steps.map((step) => (typeof step === 'string' ? step : Object.keys(step as object)[0] ?? ''));
}

/** Arguments of each step that calls `name`. */
function callsOf(job: { steps: unknown[] }, name: string): Record<string, any>[] {
  return job.steps.flatMap((step) => {
    if (step === name) return [{}];
    if (typeof step === 'object' && step !== null && name in step) return [(step as Record<string, any>)[name] ?? {}];
    return [];
  });
}

const tagRegex = new RegExp(RELEASE_TAG.slice(1, -1));

describe('the generated pipeline', () => {
  it('is what is committed under .circleci/', () => {
    for (const [file, text] of Object.entries(generated)) {
      expect(readFileSync(join(root, file), 'utf8'), `${file} is stale: node --import tsx scripts/pipeline.ts`).toBe(text);
    }
    expect(stalePipelineFiles()).toEqual([]);
  });

  it('--check names the first line that differs', () => {
    expect(firstDifference('a.yml', 'x: 1\ny: 2\n', 'x: 1\ny: 3\n')).toBe('a.yml:2: committed "y: 2", generated "y: 3"');
    expect(firstDifference('a.yml', 'x: 1', 'x: 1\ny: 3')).toBe('a.yml:2: committed "<end of file>", generated "y: 3"');
    expect(firstDifference('a.yml', undefined, 'x')).toBe('a.yml: missing; scripts/pipeline.ts generates it');
  });

  it('is deterministic', () => {
    expect(generatePipeline()).toEqual(generated);
  });

  it.each([CONFIG_PATH, TEST_DEPLOY_PATH])('%s is valid against the CircleCI schema', (file) => {
    expect(validateConfig(parse(generated[file] ?? ''))).toEqual([]);
  });

  it.each([
    ['setup', setup],
    ['test-deploy', testDeploy],
  ] as const)('%s: workflows name defined jobs, requires name jobs of the workflow, steps name known commands', (_name, config) => {
    const jobs = config['jobs'] as Record<string, { steps: unknown[] }>;
    const names = workflowJobs(config).map(([name]) => name);
    for (const [name, settings] of workflowJobs(config)) {
      expect(jobs[name], `workflow job ${name}`).toBeDefined();
      for (const required of (settings['requires'] ?? []) as string[]) expect(names).toContain(required);
    }
    const orbs = Object.keys((config['orbs'] ?? {}) as object);
    for (const job of Object.values(jobs)) {
      for (const step of stepNames(job)) {
        const [alias, command] = step.includes('/') ? step.split('/') : [undefined, step];
        if (alias === undefined) expect(BUILT_IN_STEPS, step).toContain(command);
        else expect(orbs, step).toContain(alias);
        if (alias === 'regauth') expect(CONTRACT_COMMANDS, step).toContain(command);
      }
    }
  });

  it('is a setup config that tests, builds, reviews, validates and publishes a dev orb before continuing', () => {
    expect(setup['setup']).toBe(true);
    const jobs = Object.fromEntries(workflowJobs(setup));
    expect(Object.keys(jobs)).toEqual(['test', 'build', 'review', 'validate', 'publish-dev', 'continue']);
    expect(jobs['publish-dev']?.['requires']).toEqual(['test', 'review', 'validate']);
    expect(jobs['publish-dev']?.['context']).toEqual(['orb-publishing']);
    expect(jobs['continue']?.['requires']).toEqual(['publish-dev']);
    expect(setup['jobs']['test']['steps']).toContainEqual({ run: expect.objectContaining({ command: 'sudo bash .ci/run' }) });
    expect(setup['jobs']['build']['steps']).toContainEqual({ persist_to_workspace: { root: '.', paths: ['dist/orb.yml'] } });
    expect(JSON.stringify(setup['jobs']['validate'])).toContain('circleci orb validate dist/orb.yml');
    expect(JSON.stringify(setup['jobs']['publish-dev'])).toContain('circleci orb publish dist/orb.yml \\"org/regauth@dev:${CIRCLE_SHA1}\\"');
  });

  it('continues with test-deploy.yml on the dev orb of this commit', () => {
    const [call] = callsOf(setup['jobs']['continue'], 'continuation/continue');
    expect(call?.['configuration_path']).toBe(TEST_DEPLOY_PATH);
    const passed = JSON.parse(call?.['parameters'] as string) as Record<string, string>;
    expect(passed).toEqual({ dev_orb_version: 'dev:<< pipeline.git.revision >>' });
    expect(testDeploy['orbs']['regauth']).toBe('org/regauth@<< pipeline.parameters.dev_orb_version >>');
    expect(testDeploy['parameters']).toHaveProperty('dev_orb_version');
    // CircleCI: parameters declared in the setup config must be declared in the continuation too.
    for (const name of Object.keys(setup['parameters'] as object)) expect(testDeploy['parameters']).toHaveProperty(name);
    expect(setup['parameters']).not.toHaveProperty('dev_orb_version');
  });

  it('logs in to ECR through OIDC, Docker Hub and quay on a machine, pulls and logs out', () => {
    const job = testDeploy['jobs']['integration'] as { machine: unknown; steps: unknown[] };
    expect(job.machine).toEqual({ image: 'ubuntu-2204:current' });
    expect(stepNames(job)).toEqual(
      expect.arrayContaining(['regauth/ecr-oidc-login', 'regauth/login', 'regauth/pull', 'regauth/logout']),
    );
    expect(callsOf(job, 'regauth/ecr-oidc-login')).toEqual([{ role_arn: '<< pipeline.parameters.ecr_role_arn >>', region: '<< pipeline.parameters.ecr_region >>' }]);
    const registries = callsOf(job, 'regauth/login').map((args) => args['registry'] ?? 'docker.io');
    expect(registries).toEqual(['docker.io', 'quay.io']);
    const [, settings] = workflowJobs(testDeploy).find(([name]) => name === 'integration') ?? [];
    expect(settings?.['context']).toEqual(['<< pipeline.parameters.integration_context >>']);
  });

  it('publishes org/regauth@X.Y.Z only from a vX.Y.Z tag, after integration passed', () => {
    const [, publish] = workflowJobs(testDeploy).find(([name]) => name === 'publish') ?? [];
    expect(publish?.['filters']).toEqual({ tags: { only: [RELEASE_TAG] }, branches: { ignore: ['/.*/'] } });
    expect(publish?.['requires']).toEqual(['integration']);
    expect(JSON.stringify(testDeploy['jobs']['publish'])).toContain('org/regauth@${version}');
    for (const tag of ['v1.0.0', 'v12.3.45']) expect(tag).toMatch(tagRegex);
    for (const tag of ['1.0.0', 'v1.0', 'v1.0.0-rc.1', 'v1.0.0.1', 'release-1.0.0']) expect(tag).not.toMatch(tagRegex);
  });

  it('runs every job upstream of the release on release tags too', () => {
    for (const [name, settings] of [...workflowJobs(setup), ...workflowJobs(testDeploy)]) {
      expect(settings['filters']?.['tags']?.['only'], name).toContain(RELEASE_TAG);
    }
  });

  const dist = join(root, 'dist', 'orb.yml');
  it.runIf(existsSync(dist) || process.env['CI'] === 'true')('calls the built orb only with parameters it declares', () => {
    const orb = parse(readFileSync(dist, 'utf8')) as object;
    expect(checkOrbUsage(orb, testDeploy)).toEqual([]);
  });
});
