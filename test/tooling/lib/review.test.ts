// Hand-made orbs are broken one field at a time; a loose type keeps each case one line.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkOrbUsage, currentMajor, EXCLUDED_RULES, reviewOrb, reviewOrbSource } from '../../../scripts/lib/review.ts';
import { makeTempDir, type TempDir } from '../../../testbed/tempdir.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');
const SCRIPT = '#!/usr/bin/env bash\n# regauth 1.0.0, command hello\nset -eu\necho "$REGAUTH_WHO"\necho one\necho two\necho done\n';

/** A small orb that follows every rule; each case below breaks one. */
function goodOrb(): Record<string, any> {
  return {
    version: 2.1,
    description: 'Greets people from CircleCI jobs, politely and with a configurable name, for tests.',
    display: { source_url: 'https://github.com/org/regauth', home_url: 'https://github.com/org/regauth#readme' },
    commands: {
      hello: {
        description: 'Say hello.',
        parameters: {
          who: { type: 'string', default: '${USER_NAME}', description: 'Whom to greet.' },
          token: { type: 'env_var_name', default: 'HELLO_TOKEN', description: 'Variable holding a token.' },
        },
        steps: [
          {
            run: {
              name: 'Say hello',
              environment: { REGAUTH_WHO: '<< parameters.who >>', REGAUTH_TOKEN: '<< parameters.token >>' },
              command: SCRIPT.replace('set -eu', 'cat \\<<EOF\nx\nEOF'),
            },
          },
        ],
      },
      'ecr-login': {
        description: 'Name waived from snake_case.',
        steps: [{ run: { name: 'Short', command: 'echo << pipeline.git.revision >>' } }],
      },
    },
    executors: {
      default: {
        description: 'A machine.',
        parameters: { image: { type: 'string', default: 'ubuntu-2204:current', description: 'Image.' } },
        machine: { image: '<< parameters.image >>' },
      },
    },
    jobs: {
      greet: {
        description: 'Greets.',
        parameters: { who: { type: 'string', description: 'Whom to greet.' } },
        executor: 'default',
        steps: [{ hello: { who: '<< parameters.who >>' } }],
      },
    },
    examples: {
      greet_a_person: {
        description: 'Greet someone.',
        usage: {
          version: 2.1,
          orbs: { regauth: 'org/regauth@1' },
          jobs: { build: { machine: { image: 'ubuntu-2204:current' }, steps: [{ 'regauth/hello': { who: 'Ada' } }] } },
          workflows: { main: { jobs: ['build', { 'regauth/greet': { who: 'Ada', requires: ['build'] } }] } },
        },
      },
    },
  };
}

const review = (orb: object) => reviewOrb(orb, { major: 1 });
const codes = (problems: string[]) => [...new Set(problems.map((p) => p.split(' ')[0]))];

describe('reviewOrb', () => {
  it('passes an orb that follows every rule', () => {
    expect(review(goodOrb())).toEqual([]);
  });

  const cases: [string, string, (orb: Record<string, any>) => void][] = [
    // orb-tools' rules, by review.bats' numbers and meanings.
    ['RC001', 'source_url is missing', (o) => delete o.display.source_url],
    ['RC002', 'a command has no description', (o) => delete o.commands.hello.description],
    ['RC002', 'a job has no description', (o) => delete o.jobs.greet.description],
    ['RC002', 'an executor has no description', (o) => delete o.executors.default.description],
    ['RC002', 'an example has no description', (o) => delete o.examples.greet_a_person.description],
    ['RC003', 'there is no example', (o) => delete o.examples],
    ['RC004', 'an example name contains "example"', (o) => (o.examples = { greet_example: o.examples.greet_a_person })],
    ['RC005', 'the orb description is under 64 characters', (o) => (o.description = 'Logs in.')],
    ['RC006', 'source_url cannot be reached (not an https URL)', (o) => (o.display.source_url = 'http://github.com/org/regauth')],
    ['RC007', 'home_url cannot be reached (not a URL)', (o) => (o.display.home_url = 'see the readme')],
    ['RC008', 'a run step has no name', (o) => delete o.commands.hello.steps[0].run.name],
    ['RC008', 'a run step is short-form', (o) => (o.commands['ecr-login'].steps = [{ run: 'echo hi' }])],
    ['RC010', 'a component is not snake_case', (o) => (o.commands['say-hello'] = o.commands.hello)],
    ['RC010', 'a parameter key is not snake_case', (o) => (o.commands.hello.parameters['who-else'] = { type: 'string', default: '', description: 'x' })],
    ['RC011', 'an example pins another major version', (o) => (o.examples.greet_a_person.usage.orbs.regauth = 'org/regauth@0.9.1')],
    [
      'RC012',
      'a parameter defaulting to an environment variable is used in a cache key',
      (o) => o.commands.hello.steps.push({ restore_cache: { key: 'deps-<< parameters.who >>' } }),
    ],
    // regauth's own.
    ['RG05', 'a parameter has no description', (o) => delete o.commands.hello.parameters.who.description],
    ['RG09', 'an example name says nothing', (o) => (o.examples = { usage: o.examples.greet_a_person })],
    ['RG11', 'an env_var_name default is not a plain name', (o) => (o.commands.hello.parameters.token.default = '$HELLO_TOKEN')],
    ['RG11', 'a string default is a bare $VAR', (o) => (o.commands.hello.parameters.who.default = '$USER_NAME')],
    ['RG01', 'a declared parameter is never used', (o) => (o.commands.hello.parameters.extra = { type: 'boolean', default: false, description: 'Unused.' })],
    ['RG02', 'a used parameter is not declared', (o) => (o.commands.hello.steps[0].run.environment.X = '<< parameters.nope >>')],
    ['RG03', 'an include was not resolved', (o) => (o.commands['ecr-login'].steps[0].run.command = '<<include(scripts/x.sh)>>')],
    ['RG04', 'run text has an unescaped heredoc', (o) => (o.commands['ecr-login'].steps[0].run.command = 'cat <<EOF\nx\nEOF')],
    ['RG06', 'an example is not a valid config', (o) => delete o.examples.greet_a_person.usage.jobs.build.machine],
    ['RG07', 'an example passes an undeclared parameter', (o) => (o.examples.greet_a_person.usage.jobs.build.steps[0]['regauth/hello'].whom = 'x')],
    ['RG07', 'an example calls a missing command', (o) => o.examples.greet_a_person.usage.jobs.build.steps.push('regauth/bye')],
    ['RG07', 'an example omits a required job parameter', (o) => (o.examples.greet_a_person.usage.workflows.main.jobs[1] = 'regauth/greet')],
    ['RG08', 'the orb itself breaks the schema', (o) => (o.commands.hello.parameters.who.type = 'text')],
  ];

  it.each(cases)('%s: flags an orb where %s', (code, _what, breakIt) => {
    const orb = goodOrb();
    breakIt(orb);
    const problems = review(orb);
    expect(codes(problems), problems.join('\n')).toContain(code);
  });

  it('names the place and the fix in each problem', () => {
    const orb = goodOrb();
    orb.commands.hello.steps[0].run.environment.X = '<< parameters.nope >>';
    expect(review(orb)).toEqual(['RG02 commands.hello: uses << parameters.nope >> but declares no such parameter']);
  });

  it('waives snake_case only for the names users asked for', () => {
    const orb = goodOrb();
    orb.commands['ecr-oidc-login'] = orb.commands['ecr-login'];
    orb.commands['pull-images'] = orb.commands['ecr-login'];
    expect(review(orb)).toEqual(['RC010 commands.pull-images: name is not snake_case']);
  });

  it('states a reason for each rule the pipeline excludes', () => {
    expect(Object.keys(EXCLUDED_RULES)).toEqual(['RC010']);
    expect(EXCLUDED_RULES['RC010']).toMatch(/ecr-oidc-login.*published interface/);
  });

  it('reads the major version examples must use from package.json', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(currentMajor()).toBe(Number(pkg.version.split('.')[0]));
  });
});

describe('reviewOrbSource', () => {
  const dirs: TempDir[] = [];
  afterAll(async () => Promise.all(dirs.map(async (dir) => dir.remove())));

  /** An orb source folder with one command file; each case writes it differently. */
  function source(file: string, command: unknown): string {
    const dir = makeTempDir('regauth-review-');
    dirs.push(dir);
    mkdirSync(join(dir.path, 'commands'));
    writeFileSync(join(dir.path, 'commands', file), JSON.stringify({ description: 'x', steps: [{ run: { name: 'x', command } }] }));
    return dir.path;
  }

  it('RC009: a run command over 64 characters must come from <<include(...)>>', () => {
    const long = 'echo "this command is long enough to pass the sixty-four character limit"';
    expect(reviewOrbSource(source('hello.yml', long))).toEqual([`RC009 commands/hello.yml steps[0].run: a ${long.length}-character command is inline; move it to a script and use <<include(scripts/…)>>`]);
    expect(reviewOrbSource(source('hello.yml', '<<include(scripts/generated/hello.sh)>>'))).toEqual([]);
    expect(reviewOrbSource(source('hello.yml', 'echo short'))).toEqual([]);
  });

  it('RC010: a command file name with "-" is flagged unless it is a published name', () => {
    expect(reviewOrbSource(source('pull-images.yml', 'echo x'))).toEqual(['RC010 commands/pull-images.yml: the file name is not snake_case']);
    expect(reviewOrbSource(source('ecr-oidc-login.yml', 'echo x'))).toEqual([]);
  });

  it("the repository's orb/ passes RC009 and RC010 (with the published names waived)", () => {
    expect(reviewOrbSource(join(root, 'orb'))).toEqual([]);
  });
});

describe('checkOrbUsage', () => {
  it('accepts calls with declared parameters and flags the rest', () => {
    const config = {
      jobs: { a: { steps: [{ 'regauth/hello': { who: 'x' } }, { 'regauth/hello': { colour: 'red' } }] } },
    };
    expect(checkOrbUsage(goodOrb(), config)).toEqual(['RG07 config.jobs.a.steps[1]: regauth/hello has no parameter colour']);
  });
});

describe('the built orb', () => {
  const dist = join(root, 'dist', 'orb.yml');
  // npm test builds first; in CI a missing dist/orb.yml is a failure, not a skip.
  const present = existsSync(dist) || process.env['CI'] === 'true';

  it.runIf(present)('dist/orb.yml passes every review rule', () => {
    const orb = parse(readFileSync(dist, 'utf8')) as object;
    expect(reviewOrb(orb)).toEqual([]);
  });
});
