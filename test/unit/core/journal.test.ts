import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportVariable, journalPath, parseEntry, readJournal, record, restoreLine } from '../../../src/core/journal.ts';
import { awsConfigFile, findProfileSection, placeSection, profileNameProblem, profileSection, removeSection } from '../../../src/clouds/aws/profile.ts';
import { installHelper } from '../../../src/refresh/install.ts';
import { distrust, undoJournal } from '../../../src/refresh/teardown.ts';

const home = () => mkdtempSync(join(tmpdir(), 'regauth-journal-'));

describe('the journal', () => {
  it('records each thing once, 0600 in a 0700 directory: what logout gives back is the value before regauth\'s first change', async () => {
    const env = { HOME: home() };
    expect(await record(env, { kind: 'export', name: 'AWS_PROFILE', previous: 'job-own' })).toBe(true);
    expect(await record(env, { kind: 'export', name: 'AWS_PROFILE', previous: 'regauth' })).toBe(false);
    expect((await readJournal(env)).entries).toEqual([{ kind: 'export', name: 'AWS_PROFILE', previous: 'job-own' }]);
    expect(statSync(journalPath(env)).mode & 0o777).toBe(0o600);
    expect(statSync(join(env.HOME, '.regauth')).mode & 0o777).toBe(0o700);
  });

  it('an export is on record before $BASH_ENV has it, and logout\'s line quotes the previous value', async () => {
    const dir = home();
    const bashEnv = join(dir, 'bash-env');
    writeFileSync(bashEnv, '');
    const env = { HOME: dir, BASH_ENV: bashEnv, GOOGLE_APPLICATION_CREDENTIALS: "/it's/mine" };
    await exportVariable(env, 'GOOGLE_APPLICATION_CREDENTIALS', '/home/x/.regauth/gcp-1/credentials.json');
    expect(readFileSync(bashEnv, 'utf8')).toBe("export GOOGLE_APPLICATION_CREDENTIALS='/home/x/.regauth/gcp-1/credentials.json'\n");
    const [entry] = (await readJournal(env)).entries;
    expect(entry).toEqual({ kind: 'export', name: 'GOOGLE_APPLICATION_CREDENTIALS', previous: "/it's/mine" });
    expect(restoreLine(entry as Parameters<typeof restoreLine>[0])).toBe("export GOOGLE_APPLICATION_CREDENTIALS='/it'\\''s/mine'");
    expect(restoreLine({ kind: 'export', name: 'AWS_PROFILE' })).toBe('unset AWS_PROFILE');
  });

  it('a job that ended without logout does not speak for the next: each job\'s exports come back to its own values', async () => {
    const dir = home();
    const bashEnv = join(dir, 'bash-env');
    writeFileSync(bashEnv, '');
    const jobA = { HOME: dir, BASH_ENV: bashEnv, CIRCLE_BUILD_NUM: '11' };
    await exportVariable(jobA, 'AWS_PROFILE', 'regauth');
    // Job B on the same machine, with its own AWS_PROFILE; A never logged out.
    const jobB = { HOME: dir, BASH_ENV: bashEnv, CIRCLE_BUILD_NUM: '12', AWS_PROFILE: 'job-b-own' };
    await exportVariable(jobB, 'AWS_PROFILE', 'regauth');
    writeFileSync(bashEnv, '');
    const done = await undoJournal(jobB, async () => ({ exitCode: 0, stdout: '', stderr: '' }), undefined);
    expect(readFileSync(bashEnv, 'utf8')).toBe("export AWS_PROFILE='job-b-own'\n");
    expect(done.ignored).toEqual(['AWS_PROFILE, exported by another job (11) that ended without logout']);
    expect(existsSync(journalPath(jobB))).toBe(false);
  });

  it('reads hostile lines as nothing, and distrusts records that name what regauth never changes', () => {
    for (const line of ['{', '[]', '{"kind":"export"}', '{"kind":"program","path":"/x","route":"curl"}', '{"kind":"docker-auth","configDir":"/d","key":"r.io","previous":{"auth":1}}']) {
      expect(parseEntry(line)).toBeUndefined();
    }
    const env = { HOME: '/home/u', DOCKER_CONFIG: '/home/u/.docker' };
    expect(distrust({ kind: 'export', name: 'PATH' }, env)).toMatch(/regauth never exports/);
    expect(distrust({ kind: 'export', name: 'AWS_PROFILE' }, env)).toBeUndefined();
    expect(distrust({ kind: 'docker-auth', configDir: '/tmp/other', key: 'r.io' }, env)).toMatch(/not this job's \/home\/u\/.docker/);
    expect(distrust({ kind: 'docker-login', configDir: '/home/u/.docker', key: '--help' }, env)).toMatch(/not a registry host/);
    expect(distrust({ kind: 'file', path: '/home/u/.regauth/../project.txt' }, env)).toMatch(/outside/);
    expect(distrust({ kind: 'program', path: '/usr/bin/sudo', route: 'sudo' }, env)).toMatch(/not docker-credential-regauth/);
    expect(distrust({ kind: 'aws-profile', file: '/etc/passwd', name: 'x', separator: '', createdFile: false }, env)).toMatch(/not this job's/);
  });

  it('the helper\'s install is on record before the program is written (a step killed in between leaves it for logout)', async () => {
    const dir = home();
    const bin = join(dir, 'bin');
    const source = join(dir, 'source');
    writeFileSync(source, '#!/bin/bash\n# regauth credential helper\n', { mode: 0o700 });
    const seen: { path: string; existed: boolean }[] = [];
    const run = async () => ({ exitCode: 1, stdout: '', stderr: '' });
    const installed = await installHelper({ HOME: dir, PATH: `${bin}:/usr/bin` }, run, source, join(dir, '.regauth', 'helper'), async (path) => {
      seen.push({ path, existed: existsSync(path) });
    });
    expect(seen).toEqual([{ path: installed.path, existed: false }]);
    expect(existsSync(installed.path)).toBe(true);
  });
});

describe('the exported AWS profile section', () => {
  const own = '[default]\nregion = eu-west-1\n\n[profile regauth] ; mine\nregion = ap-south-1\n\n[profile deploy]\nsource_profile = regauth\n';
  const section = profileSection('regauth', { region: 'us-east-1', credential_process: '/bin/cat /h/.regauth/aws/regauth.json' });

  it('takes the place of the job\'s own section of that name and gives it back byte for byte', () => {
    const placed = placeSection(own, 'regauth', section);
    expect(placed.previous).toBe('[profile regauth] ; mine\nregion = ap-south-1\n');
    expect(placed.text).toBe(`[default]\nregion = eu-west-1\n\n${section}\n[profile deploy]\nsource_profile = regauth\n`);
    expect(removeSection(placed.text, 'regauth', placed.separator, placed.previous)).toEqual({ text: own, outcome: 'restored' });
  });

  it('is appended to a file without it and removed without a trace, whatever the file\'s last byte', () => {
    for (const text of ['', '[default]\nregion = eu-west-1\n', '[default]\nregion = eu-west-1', '[default]\n\n\n']) {
      const placed = placeSection(text, 'ci', profileSection('ci', { region: 'us-east-1' }));
      expect(findProfileSection(placed.text, 'ci')).toBeDefined();
      expect(removeSection(placed.text, 'ci', placed.separator, undefined)).toEqual({ text, outcome: 'removed' });
    }
  });

  it('writes into the file the AWS tools read: AWS_CONFIG_FILE (a leading ~ expanded as they do), else ~/.aws/config', () => {
    expect(awsConfigFile({ HOME: '/h' })).toBe('/h/.aws/config');
    expect(awsConfigFile({ HOME: '/h', AWS_CONFIG_FILE: '~/ci/aws-config' })).toBe('/h/ci/aws-config');
    expect(awsConfigFile({ HOME: '/h', AWS_CONFIG_FILE: '/etc/ci/aws' })).toBe('/etc/ci/aws');
  });

  it('leaves a section without regauth\'s marker alone, and names only profiles it can write', () => {
    expect(removeSection(own, 'regauth', '', undefined).outcome).toBe('not-ours');
    expect(profileNameProblem('regauth')).toBeUndefined();
    expect(profileNameProblem('ci-42.prod_x')).toBeUndefined();
    for (const bad of ['default', '', 'a b', 'x]\n[y', '-x', 'a'.repeat(65)]) expect(profileNameProblem(bad)).toBeDefined();
  });
});
