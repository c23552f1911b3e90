import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProcessRequest, ProcessResult } from '../../src/core/process.ts';
import { dockerLogin, dockerLogout } from '../../src/docker/login.ts';
import { parseRegistryHost, type RegistryTarget } from '../../src/registry/host.ts';

/** A stand-in for the docker CLI (named as such): edits config.json the way docker login/logout do. */
function fakeDocker(dir: string, seen: { args: readonly string[]; stateDuringLogin?: string; modeDuringLogin?: number }[]) {
  return async (request: ProcessRequest): Promise<ProcessResult> => {
    const file = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, unknown> };
    const [verb, ...rest] = request.args;
    const host = rest.at(-1) ?? '';
    const entry: (typeof seen)[number] = { args: request.args };
    if (verb === 'login') {
      entry.stateDuringLogin = readFileSync(join(dir, 'regauth-state.json'), 'utf8');
      entry.modeDuringLogin = statSync(file).mode & 0o777;
      config.auths = { ...config.auths, [host]: { auth: Buffer.from(`ci:${request.stdin ?? ''}`).toString('base64') } };
    } else if (verb === 'logout' && config.auths) delete config.auths[host];
    writeFileSync(file, JSON.stringify(config));
    seen.push(entry);
    return { exitCode: 0, stdout: '', stderr: '' };
  };
}

const target = (host: string): RegistryTarget => parseRegistryHost(host) as RegistryTarget;

describe('dockerLogin / dockerLogout', () => {
  it('records the login and makes config.json 0600 before docker runs; logout gives back the entry it replaced', async () => {
    const home = mkdtempSync(join(tmpdir(), 'regauth-login-'));
    const dir = join(home, '.docker');
    mkdirSync(dir, { mode: 0o700 });
    const own = { auth: Buffer.from('runner:own').toString('base64') };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'r.example.com': own } }), { mode: 0o644 });
    const seen: Parameters<typeof fakeDocker>[1] = [];
    const deps = { run: fakeDocker(dir, seen), env: { HOME: home, DOCKER_CONFIG: dir, PATH: '' } };
    await dockerLogin(deps, target('r.example.com'), 'ci', 'pw');
    expect(seen[0]?.stateDuringLogin).toContain('"key": "r.example.com"');
    expect(seen[0]?.modeDuringLogin).toBe(0o600);
    await dockerLogout(deps, undefined);
    expect((JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { auths: unknown }).auths).toEqual({ 'r.example.com': own });
  });

  it('passes only registry hosts from the state file to docker logout, and deletes no file outside ~/.regauth', async () => {
    const home = mkdtempSync(join(tmpdir(), 'regauth-logout-'));
    const dir = join(home, '.docker');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(home, 'project.txt'), 'keep');
    writeFileSync(join(dir, 'regauth-state.json'), JSON.stringify({ logins: [{ key: '--help' }, { key: 'ok.example.com' }], secretFiles: [join(home, 'project.txt')] }));
    const seen: Parameters<typeof fakeDocker>[1] = [];
    const report = await dockerLogout({ run: fakeDocker(dir, seen), env: { HOME: home, DOCKER_CONFIG: dir } }, undefined);
    expect(seen.map((s) => s.args)).toEqual([['logout', 'ok.example.com']]);
    expect(report.loggedOut).toEqual(['ok.example.com']);
    expect(report.ignored).toHaveLength(2);
    expect(readFileSync(join(home, 'project.txt'), 'utf8')).toBe('keep');
  });
});
