import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportVariable, journalPath, record } from '../../../src/core/journal.ts';
import type { ProcessRequest } from '../../../src/core/process.ts';
import { distrust, undoJournal } from '../../../src/refresh/teardown.ts';

const home = () => mkdtempSync(join(tmpdir(), 'regauth-teardown-'));

describe('what logout distrusts in the journal', () => {
  it('a record that names what regauth never changes is refused, with the reason', () => {
    const env = { HOME: '/home/u', DOCKER_CONFIG: '/home/u/.docker' };
    expect(distrust({ kind: 'export', name: 'PATH' }, env)).toMatch(/regauth never exports/);
    expect(distrust({ kind: 'export', name: 'AWS_PROFILE' }, env)).toBeUndefined();
    expect(distrust({ kind: 'docker-auth', configDir: '/tmp/other', key: 'r.io' }, env)).toMatch(/not this job's \/home\/u\/.docker/);
    expect(distrust({ kind: 'docker-login', configDir: '/home/u/.docker', key: '--help' }, env)).toMatch(/not a registry host/);
    expect(distrust({ kind: 'file', path: '/home/u/.regauth/../project.txt' }, env)).toMatch(/outside/);
    expect(distrust({ kind: 'program', path: '/usr/bin/sudo', route: 'sudo' }, env)).toMatch(/not docker-credential-regauth/);
    expect(distrust({ kind: 'aws-profile', file: '/etc/passwd', name: 'x', separator: '', createdFile: false }, env)).toMatch(/not this job's/);
  });
});

describe('undoJournal', () => {
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

  it('a docker login on record: docker logout, then the entry it replaced comes back byte for byte, and the journal goes', async () => {
    const dir = home();
    const configDir = join(dir, '.docker');
    mkdirSync(configDir, { mode: 0o700 });
    const own = { auth: Buffer.from('runner:own').toString('base64'), email: 'x@example.com' };
    const env = { HOME: dir, DOCKER_CONFIG: configDir, PATH: '' };
    await record(env, { kind: 'docker-auth', configDir, key: 'r.example.com', previous: own });
    await record(env, { kind: 'docker-login', configDir, key: 'r.example.com' });
    const file = join(configDir, 'config.json');
    writeFileSync(file, JSON.stringify({ auths: { 'r.example.com': { auth: Buffer.from('ci:regauth').toString('base64') } } }));
    // A stand-in for the docker CLI (named as such): docker logout removes the host's entry.
    const calls: string[][] = [];
    const run = async (request: ProcessRequest) => {
      calls.push([...request.args]);
      const config = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, unknown> };
      if (request.args[0] === 'logout') delete config.auths[request.args.at(-1) ?? ''];
      writeFileSync(file, JSON.stringify(config));
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    const done = await undoJournal(env, run, undefined);
    expect(calls.map((args) => args[0])).toEqual(['logout']);
    expect(done.loggedOut).toEqual(['r.example.com']);
    expect(done.restoredAuth).toEqual(['r.example.com']);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { auths: unknown }).auths).toEqual({ 'r.example.com': own });
    expect(existsSync(journalPath(env))).toBe(false);
  });
});
