import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProcessRequest, ProcessResult } from '../../../src/core/process.ts';
import { journalPath, readJournal } from '../../../src/core/journal.ts';
import { dockerLogin } from '../../../src/docker/login.ts';
import { parseRegistryHost, type RegistryTarget } from '../../../src/registry/host.ts';

/** A stand-in for the docker CLI (named as such): edits config.json the way docker login/logout do. */
function fakeDocker(dir: string, journal: string, seen: { args: readonly string[]; journalDuringLogin?: string; modeDuringLogin?: number }[], exitCode = 0) {
  return async (request: ProcessRequest): Promise<ProcessResult> => {
    const file = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, unknown> };
    const [verb, ...rest] = request.args;
    const host = rest.at(-1) ?? '';
    const entry: (typeof seen)[number] = { args: request.args };
    if (verb === 'login') {
      entry.journalDuringLogin = readFileSync(journal, 'utf8');
      entry.modeDuringLogin = statSync(file).mode & 0o777;
      if (exitCode === 0) config.auths = { ...config.auths, [host]: { auth: Buffer.from(`ci:${request.stdin ?? ''}`).toString('base64') } };
    } else if (verb === 'logout' && config.auths) delete config.auths[host];
    writeFileSync(file, JSON.stringify(config));
    seen.push(entry);
    return { exitCode, stdout: '', stderr: exitCode === 0 ? '' : 'Error response from daemon: unauthorized' };
  };
}

const target = (host: string): RegistryTarget => parseRegistryHost(host) as RegistryTarget;

function jobHome(config: unknown): { home: string; dir: string; env: Record<string, string> } {
  const home = mkdtempSync(join(tmpdir(), 'regauth-login-'));
  const dir = join(home, '.docker');
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config), { mode: 0o644 });
  return { home, dir, env: { HOME: home, DOCKER_CONFIG: dir, PATH: '' } };
}

describe('dockerLogin and the journal', () => {
  it('records the login (with the entry it replaces) and makes config.json 0600 before docker runs; a second login adds no record', async () => {
    const own = { auth: Buffer.from('runner:own').toString('base64'), email: 'x@example.com' };
    const { dir, env } = jobHome({ auths: { 'r.example.com': own } });
    const seen: Parameters<typeof fakeDocker>[2] = [];
    const run = fakeDocker(dir, journalPath(env), seen);
    await dockerLogin({ run, env }, target('r.example.com'), 'ci', 'pw');
    expect(seen[0]?.journalDuringLogin).toContain('"kind":"docker-login","configDir"');
    expect(seen[0]?.journalDuringLogin).toContain(`"previous":${JSON.stringify(own)}`);
    expect(seen[0]?.modeDuringLogin).toBe(0o600);
    // A second login to the same host keeps the first record: logout gives back the job's entry, not regauth's.
    await dockerLogin({ run, env }, target('r.example.com'), 'ci', 'pw2');
    expect((await readJournal(env)).entries).toEqual([
      { kind: 'docker-auth', configDir: dir, key: 'r.example.com', previous: own },
      { kind: 'docker-login', configDir: dir, key: 'r.example.com' },
    ]);
  });

  it('a refused login takes its records back, so logout has nothing to do for it (the journal is empty again)', async () => {
    const { dir, env } = jobHome({});
    const seen: Parameters<typeof fakeDocker>[2] = [];
    await expect(dockerLogin({ run: fakeDocker(dir, journalPath(env), seen, 1), env }, target('r.example.com'), 'ci', 'pw')).rejects.toThrow();
    expect((await readJournal(env)).entries).toEqual([]);
    expect(seen.map((s) => s.args[0])).toEqual(['login']);
  });
});
