// Configs are broken one field at a time; a loose type keeps each case one line.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { orbName, readOrbIdentity } from '../../../scripts/lib/orb-identity.ts';
import { schemaPath, validateConfig, where, wrapOrbInConfig } from '../../../scripts/lib/schema.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');
/** The reference every example makes: package.json's orb namespace, this major version. */
const ORB_REF = `${orbName(readOrbIdentity(root))}@1`;

const minimal = () => ({
  version: 2.1,
  jobs: { test: { machine: { image: 'ubuntu-2204:current' }, steps: ['checkout', { run: { name: 'Test', command: 'npm test' } }] } },
  workflows: { main: { jobs: ['test'] } },
});

describe('validateConfig', () => {
  it('accepts a minimal valid config', () => {
    expect(validateConfig(minimal())).toEqual([]);
  });

  it('says a job has no executor, in one line', () => {
    const config: any = minimal();
    delete config.jobs.test.machine;
    expect(validateConfig(config)).toEqual(['jobs.test: must have one of the properties executor, machine, docker, macos']);
  });

  it('points at a mistyped step key', () => {
    const config: any = minimal();
    config.jobs.test.steps[1] = { run: { comand: 'npm test' } };
    config.jobs.test.steps.push({ checkout: { pth: 'src' } });
    expect(validateConfig(config)).toEqual([
      "jobs.test.steps[1].run: must have required property 'command'",
      "jobs.test.steps[2].checkout: unexpected property 'pth'",
    ]);
  });

  it('reports independent problems together and names the expected types', () => {
    const config: any = minimal();
    config.version = 2;
    config.jobs.test.steps = 'checkout';
    expect(validateConfig(config)).toEqual(['jobs.test.steps: must be array', 'version: must be one of "2.1", 2.1']);
  });

  it('accepts an orb referenced by name and version', () => {
    const config: any = { ...minimal(), orbs: { regauth: 'org/regauth@1' } };
    config.jobs.test.steps.push({ 'regauth/login': { username: 'DOCKERHUB_USER' } });
    expect(validateConfig(config)).toEqual([]);
  });

  it('reads the schema the repository carries, or where REGAUTH_CIRCLECI_SCHEMA says', () => {
    expect(schemaPath({})).toBe(resolve(root, 'vendor', 'circleci-schema', 'schema.json'));
    expect(schemaPath({ REGAUTH_CIRCLECI_SCHEMA: '/x/schema.json' })).toBe('/x/schema.json');
  });

  it('fails with a clear message when the schema is missing', () => {
    expect(() => validateConfig(minimal(), '/nonexistent/schema.json')).toThrow(
      /Could not read the CircleCI schema at \/nonexistent\/schema.json: .*REGAUTH_CIRCLECI_SCHEMA/,
    );
  });

  it('writes locations the way configs read', () => {
    expect(where('')).toBe('(root)');
    expect(where('/jobs/test/steps/2/regauth~1login')).toBe('jobs.test.steps[2].regauth/login');
  });
});

describe('wrapOrbInConfig', () => {
  const orb = {
    version: 2.1,
    commands: {
      pull: {
        parameters: { images: { type: 'string' }, attempts: { type: 'integer', default: 5 }, key: { type: 'env_var_name' } },
        steps: [{ run: { name: 'Pull', command: 'echo' } }],
      },
      logout: { steps: [{ run: { name: 'Logout', command: 'echo' } }] },
    },
    jobs: { check: { parameters: { mode: { type: 'enum', enum: ['fast', 'slow'] } }, machine: { image: 'ubuntu-2204:current' }, steps: ['checkout'] } },
  };

  it('calls every command and job, filling required parameters', () => {
    const config = wrapOrbInConfig(orb, { pull: { images: 'alpine:3.20' } });
    expect(config['orbs']).toEqual({ regauth: orb });
    expect(config['jobs']).toEqual({
      'use-commands': {
        machine: { image: 'ubuntu-2204:current' },
        steps: [{ 'regauth/pull': { images: 'alpine:3.20', key: 'REGAUTH_PLACEHOLDER' } }, 'regauth/logout'],
      },
    });
    expect(config['workflows']).toEqual({ 'use-orb': { jobs: ['use-commands', { 'regauth/check': { mode: 'fast' } }] } });
    expect(validateConfig(config)).toEqual([]);
  });

  it('lets the schema see a broken inline orb', () => {
    const broken = structuredClone(orb) as any;
    broken.commands.pull.steps = [];
    expect(validateConfig(wrapOrbInConfig(broken))).toEqual(['orbs.regauth.commands.pull.steps: must NOT have fewer than 1 items']);
  });
});

describe('orb/examples', () => {
  const dir = join(root, 'orb', 'examples');
  const files = readdirSync(dir).filter((file) => file.endsWith('.yml')).sort();

  it('has the examples users asked for', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'ecr_oidc_two_accounts_custom_audience.yml',
        'dockerhub_access_token.yml',
        'quay_robot.yml',
        'gcr_artifact_registry.yml',
        'pull_with_mirror.yml',
        'logout_always.yml',
        'ecr_static_keys.yml',
      ]),
    );
  });

  it.each(files)(`%s is a described, valid config on ${ORB_REF}`, (file) => {
    const example = parse(readFileSync(join(dir, file), 'utf8')) as { description: string; usage: Record<string, any> };
    expect(Object.keys(example).sort()).toEqual(['description', 'usage']);
    expect(example.description.length).toBeGreaterThan(60);
    expect(example.usage['orbs']).toEqual({ regauth: ORB_REF });
    expect(validateConfig(example.usage)).toEqual([]);
  });
});
