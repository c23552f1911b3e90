import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatEntry } from '../../../src/refresh/cache.ts';
import { fenceOff, removeFenced } from '../../../src/refresh/fence.ts';
import { bindToJob, isLoginsJob } from '../../../src/refresh/job.ts';
import { helperMain, type HelperIo } from '../../../src/refresh/helper.ts';
import { hostFromServerUrl } from '../../../src/refresh/docker-protocol.ts';
import { remote } from '../../../src/core/output.ts';
import { helperScript } from '../../../src/refresh/helper-script.ts';
import type { AwsEcrRecipe } from '../../../src/clouds/aws/recipe.ts';
import type { MintedGroup, Refreshers } from '../../../src/refresh/refreshers.ts';
import { groupId } from '../../../src/refresh/setup.ts';
import type { ProcessRequest } from '../../../src/core/process.ts';
import { makeTempDir } from '../../../testbed/tempdir.ts';

const HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const JWT = (exp: number) => `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp, aud: 'org' })).toString('base64url')}.c2ln`;

describe('hostFromServerUrl', () => {
  it('takes the host from what docker passes', () => {
    expect(hostFromServerUrl(`https://${HOST}/`)).toBe(HOST);
    expect(hostFromServerUrl(`${HOST}\n`)).toBe(HOST);
    expect(hostFromServerUrl('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
});

/** The helper's node half against a temp HOME, a fake refresher and a fake `circleci`. */
function harness(options: { mint?: 'ok' | 'missing'; refresh?: () => Promise<MintedGroup> } = {}) {
  const home = makeTempDir('regauth-helper-').path;
  const dir = join(home, '.regauth', 'helper');
  const out: string[] = [];
  const err: string[] = [];
  const calls: ProcessRequest[] = [];
  let refreshes = 0;
  const now = () => Date.now();
  // The agent's directory: an (empty) circleci-agent the fake `run` below stands in for.
  const agentDir = join(home, 'bin');
  mkdirSync(agentDir);
  writeFileSync(join(agentDir, 'circleci-agent'), '#!/bin/sh\nexit 99\n', { mode: 0o755 });
  const recipe: AwsEcrRecipe = {
    kind: 'aws-ecr', group: '', audience: 'aud-x', hosts: [HOST], roleArn: 'arn:aws:iam::123456789012:role/r', region: 'us-east-1', accountIds: [], includePublic: false, sessionName: 's1', durationSeconds: 3600,
  };
  recipe.group = groupId(recipe);
  for (const sub of ['recipes', 'routes', 'cache', 'locks']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  // The login's job (io.env below names none of CircleCI's variables).
  writeFileSync(join(dir, 'job'), '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'recipes', `${recipe.group}.json`), JSON.stringify(recipe), { mode: 0o600 });
  writeFileSync(join(dir, 'routes', HOST), `${recipe.group}\n`, { mode: 0o600 });
  const refreshers: Refreshers = {
    'aws-ecr': async () => {
      refreshes += 1;
      if (options.refresh) return options.refresh();
      return { registries: [{ host: HOST, username: 'AWS', secret: 'fresh-secret', expiresAt: new Date(Date.now() + 3600_000) }], secrets: ['fresh-secret'] };
    },
  };
  const io: HelperIo = {
    env: { HOME: home },
    stdin: async () => HOST,
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    now,
    lock: { now, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), isAlive: () => true },
    refresh: {
      env: { HOME: home, PATH: options.mint === 'missing' ? '' : agentDir },
      run: async (request) => {
        calls.push(request);
        if (options.mint === 'missing') {
          const { ProcessStartError } = await import('../../../src/core/process.ts');
          throw new ProcessStartError('circleci', 'ENOENT');
        }
        return { exitCode: 0, stdout: JWT(Math.floor(Date.now() / 1000) + 3600), stderr: '' };
      },
      retry: { sleep: async () => undefined, random: () => 0.5 },
    },
    deadlineMs: 5_000,
  };
  const seed = (secret: string, refreshAt: number, expiresAt: number) =>
    writeFileSync(join(dir, 'cache', HOST), formatEntry({ refreshAt, answer: JSON.stringify({ ServerURL: HOST, Username: 'AWS', Secret: secret }), expiresAt }), { mode: 0o600 });
  return { home, dir, io, out, err, calls, refreshers, recipe, seed, refreshes: () => refreshes };
}

describe('helperMain', () => {
  const nowS = () => Math.floor(Date.now() / 1000);

  it('answers a fresh entry without minting or refreshing', async () => {
    const h = harness();
    h.seed('cached-secret', nowS() + 600, nowS() + 900);
    expect(await helperMain(['get'], h.refreshers, h.io)).toBe(0);
    expect(JSON.parse(h.out.join(''))).toEqual({ ServerURL: HOST, Username: 'AWS', Secret: 'cached-secret' });
    expect([h.calls.length, h.refreshes(), h.err]).toEqual([0, 0, []]);
  });

  it('answers another job "credentials not found" with one line: no cached answer, no job token minted', async () => {
    const h = harness();
    h.seed('cached-secret', nowS() + 600, nowS() + 900);
    const other = { ...h.io, env: { ...h.io.env, CIRCLE_WORKFLOW_JOB_ID: 'e4a1c0de-0000-4000-8000-000000004711' } };
    expect(await helperMain(['get', HOST], h.refreshers, other)).toBe(1);
    expect(h.out.join('')).toBe('credentials not found in native keychain\n');
    expect(h.err).toHaveLength(1);
    expect(h.err[0]).toMatch(/^regauth: the credential helper was set up by another CircleCI job that ended without regauth\/logout/);
    h.seed('cached-secret', nowS() - 1, nowS() + 900);
    expect(await helperMain(['aws-credentials', h.recipe.group], h.refreshers, other)).toBe(1);
    // docker login of that job: refused with what to do, nothing stored in the other job's helper.
    expect(await helperMain(['store'], h.refreshers, { ...other, stdin: async () => JSON.stringify({ ServerURL: 'new.example', Username: 'u', Secret: 'p' }) })).toBe(1);
    expect(existsSync(join(h.dir, 'cache', 'new.example'))).toBe(false);
    expect([h.calls.length, h.refreshes()]).toEqual([0, 0]);
    expect(h.out.join('')).not.toContain('cached-secret');
  });

  it('writes nothing once logout fenced the directory off, and never re-creates it', async () => {
    let finish = (): void => undefined;
    const h = harness({
      refresh: () => new Promise((resolve) => (finish = () => resolve({ registries: [{ host: HOST, username: 'AWS', secret: 'late-secret', expiresAt: new Date(Date.now() + 3600_000) }], secrets: ['late-secret'] }))),
    });
    h.seed('old-secret', nowS() - 1, nowS() + 200);
    const asking = helperMain(['get', HOST], h.refreshers, h.io);
    while (h.refreshes() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    let loggedOut = false;
    const logout = fenceOff(h.dir).then(() => removeFenced(h.dir)).then(() => (loggedOut = true));
    while (!existsSync(join(h.dir, 'fenced'))) await new Promise((resolve) => setTimeout(resolve, 5));
    // Logout waits for the refresh holding the group's lock.
    expect(loggedOut).toBe(false);
    finish();
    await Promise.all([asking, logout]);
    expect(existsSync(h.dir)).toBe(false);
    // A refresh starting after logout finds no lock directory and makes none.
    expect(await helperMain(['get', HOST], h.refreshers, h.io)).toBe(1);
    expect(existsSync(h.dir)).toBe(false);
  });

  it('refreshes a stale entry with a job token of the recipe\'s audience, once for concurrent gets', async () => {
    const h = harness();
    h.seed('old-secret', nowS() - 1, nowS() + 200);
    const codes = await Promise.all(Array.from({ length: 5 }, () => helperMain(['get', HOST], h.refreshers, h.io)));
    expect(codes).toEqual([0, 0, 0, 0, 0]);
    expect(h.refreshes()).toBe(1);
    expect(h.calls.map((c) => [c.command, ...c.args])).toEqual([[join(h.home, 'bin', 'circleci-agent'), 'run', 'oidc', 'get', '--claims', '{"aud":"aud-x"}']]);
    for (const text of h.out) expect(JSON.parse(text)).toMatchObject({ Secret: 'fresh-secret' });
    expect(readFileSync(join(h.dir, 'cache', HOST), 'utf8').split('\n')[1]).toContain('fresh-secret');
  });

  it('answers with the still-valid entry and one line when the refresh fails', async () => {
    const h = harness({ mint: 'missing' });
    h.seed('old-secret', nowS() - 1, nowS() + 200);
    expect(await helperMain(['get', HOST], h.refreshers, h.io)).toBe(0);
    expect(JSON.parse(h.out.join(''))).toMatchObject({ Secret: 'old-secret' });
    expect(h.err).toHaveLength(1);
    expect(h.err[0]).toMatch(/^regauth: could not refresh the credentials for the registry \S+ \(could not mint an OIDC token with aud "aud-x": neither circleci-agent nor circleci is on PATH\); answering with the cached ones, valid until \d\d:\d\d:\d\d UTC\n$/);
  });

  it("renders an endpoint's words as every step does: escape sequences out, quoted, cut after redaction", async () => {
    const endpoint = `\u001b[31mAccessDenied\u001b[0m for fresh-secret \u001b]0;forged title\u0007${'x'.repeat(1000)}`;
    const h = harness({ refresh: async () => Promise.reject(new Error(`sts:AssumeRoleWithWebIdentity failed: ${remote(endpoint)}`)) });
    h.seed('old-secret', nowS() - 100, nowS() - 1);
    expect(await helperMain(['get', HOST], h.refreshers, h.io)).toBe(1);
    const line = h.err[0] ?? '';
    expect(line).toMatch(/^regauth: could not refresh the credentials for the registry \S+ \(sts:AssumeRoleWithWebIdentity failed: "AccessDenied for /);
    // eslint-disable-next-line no-control-regex -- what must not reach the log
    expect(line + h.out.join('')).not.toMatch(/[\u001b\u0007\u{F8F0}\u{F8F1}]|forged title/u);
    expect(line).toContain('x…"), and the cached ones have expired');
    expect(line.length).toBeLessThan(600);
    expect(h.out.join('')).toBe(line);
  });

  it('fails with one line (and the same text for docker) when nothing valid is left, never printing a secret', async () => {
    const h = harness({ refresh: async () => Promise.reject(new Error('AccessDenied for fresh-secret-leak')) });
    h.seed('old-secret', nowS() - 100, nowS() - 1);
    expect(await helperMain(['get', HOST], h.refreshers, h.io)).toBe(1);
    expect(h.err).toHaveLength(1);
    expect(h.err[0]).toMatch(/and the cached ones have expired; run regauth's login step again in this job\n$/);
    expect(h.out.join('')).toContain('could not refresh');
    expect(h.out.join('') + h.err.join('')).not.toContain('old-secret');
  });

  it('ends a refresh that hangs at its deadline', async () => {
    const h = harness({ refresh: () => new Promise<MintedGroup>(() => undefined) });
    h.seed('old-secret', nowS() - 1, nowS() + 200);
    h.io.deadlineMs = 200;
    expect(await helperMain(['get', HOST], h.refreshers, h.io)).toBe(0);
    expect(h.err[0]).toContain('(the refresh took longer than 0 s)');
  });

  it('says credentials not found for a host it does not serve, and refuses a path as a host', async () => {
    const h = harness();
    expect(await helperMain(['get', 'other.example'], h.refreshers, h.io)).toBe(1);
    expect(await helperMain(['get', '../../x'], h.refreshers, h.io)).toBe(1);
    expect(h.out).toEqual(['credentials not found in native keychain\n', 'credentials not found in native keychain\n']);
  });

  it('stores, lists and erases like a docker credential helper', async () => {
    const h = harness();
    h.io.stdin = async () => JSON.stringify({ ServerURL: 'https://own.example', Username: 'me', Secret: 's3cret' });
    expect(await helperMain(['store'], h.refreshers, h.io)).toBe(0);
    expect(await helperMain(['list'], h.refreshers, h.io)).toBe(0);
    expect(JSON.parse(h.out.pop() ?? '')).toEqual({ 'own.example': 'me' });
    h.io.stdin = async () => 'own.example';
    expect(await helperMain(['get'], h.refreshers, h.io)).toBe(0);
    expect(JSON.parse(h.out.pop() ?? '')).toMatchObject({ Secret: 's3cret' });
    expect(await helperMain(['erase'], h.refreshers, h.io)).toBe(0);
    expect(await helperMain(['get'], h.refreshers, h.io)).toBe(1);
  });

  it('prints a fresh job token in Google\'s executable format for a recipe\'s audience', async () => {
    const h = harness();
    expect(await helperMain(['google-executable', h.recipe.group], h.refreshers, h.io)).toBe(0);
    const response = JSON.parse(h.out.join('')) as Record<string, unknown>;
    expect(response).toMatchObject({ version: 1, success: true, token_type: 'urn:ietf:params:oauth:token-type:jwt' });
    expect(response.expiration_time).toBeGreaterThan(nowS());
    expect(h.calls[0]?.args).toEqual(['run', 'oidc', 'get', '--claims', '{"aud":"aud-x"}']);
    const failing = harness({ mint: 'missing' });
    expect(await helperMain(['google-executable', '--audience', 'x'], failing.refreshers, failing.io)).toBe(1);
    expect(JSON.parse(failing.out.join(''))).toMatchObject({ version: 1, success: false, code: 'REGAUTH_MINT_FAILED' });
  });
});

describe('the bash helper script', () => {
  function scriptIn(home: string): string {
    const file = join(home, 'docker-credential-regauth');
    writeFileSync(file, helperScript());
    chmodSync(file, 0o755);
    return file;
  }
  it('passes bash -n and answers a fresh entry with builtins only', () => {
    const h = harness();
    const script = scriptIn(h.home);
    execFileSync('bash', ['-n', script]);
    h.seed('cached-secret', Math.floor(Date.now() / 1000) + 600, Math.floor(Date.now() / 1000) + 900);
    const run = spawnSync(script, ['get'], { input: `https://${HOST}`, env: { HOME: h.home, PATH: '/nonexistent' }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ Secret: 'cached-secret' });
  });
  it('answers from its cache exactly when the asking job is the one that logged in, as node judges it', async () => {
    const ids: Record<string, string>[] = [
      {},
      { CIRCLE_BUILD_NUM: '4001' },
      { CIRCLE_BUILD_NUM: '4002' },
      { CIRCLE_BUILD_NUM: ' 4001' },
      { CIRCLE_WORKFLOW_JOB_ID: 'e4a1c0de-0000-4000-8000-000000000001', CIRCLE_BUILD_NUM: '4001' },
      { CIRCLE_WORKFLOW_JOB_ID: 'e4a1c0de-0000-4000-8000-000000000002', CIRCLE_BUILD_NUM: '4001' },
      { CIRCLE_WORKFLOW_JOB_ID: '', CIRCLE_BUILD_NUM: '4001' },
      { CIRCLE_WORKFLOW_JOB_ID: 'a b' },
      { CIRCLE_WORKFLOW_JOB_ID: 'x'.repeat(65) },
    ];
    const h = harness();
    const script = scriptIn(h.home);
    h.seed('cached-secret', Math.floor(Date.now() / 1000) + 600, Math.floor(Date.now() / 1000) + 900);
    for (const login of ids) {
      await bindToJob(h.dir, login);
      for (const asking of ids) {
        const run = spawnSync(script, ['get'], { input: HOST, env: { HOME: h.home, PATH: '/nonexistent', ...asking }, encoding: 'utf8' });
        expect([JSON.stringify(login), JSON.stringify(asking), run.status]).toEqual([JSON.stringify(login), JSON.stringify(asking), (await isLoginsJob(h.dir, asking)) ? 0 : 1]);
      }
    }
  });
  it('hands a stale entry to node, and says so when regauth\'s files are gone', () => {
    const h = harness();
    const script = scriptIn(h.home);
    h.seed('old', Math.floor(Date.now() / 1000) - 1, Math.floor(Date.now() / 1000) + 900);
    const run = spawnSync(script, ['get'], { input: HOST, env: { HOME: h.home, PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^regauth: the credential helper cannot refresh: \S+aws-ecr\.cjs is missing/);
    expect(run.stdout).toBe('credentials not found in native keychain\n');
  });
  it("takes docker login's store of the answer it already holds without node, and hands any other store to node", () => {
    const h = harness();
    const script = scriptIn(h.home);
    h.seed('cached-secret', Math.floor(Date.now() / 1000) + 600, Math.floor(Date.now() / 1000) + 900);
    // docker's store: Go's JSON encoder, fields in this order, a newline after.
    const store = (secret: string, env: Record<string, string> = {}) =>
      spawnSync(script, ['store'], { input: `${JSON.stringify({ ServerURL: HOST, Username: 'AWS', Secret: secret })}\n`, env: { HOME: h.home, PATH: '/nonexistent', ...env }, encoding: 'utf8' });
    expect([store('cached-secret').status, store('cached-secret').stderr]).toEqual([0, '']);
    // Node is not on hand here, so reaching it shows as "cannot refresh": a different password, another
    // job, a host regauth does not route, and an entry past its refresh time all go there.
    const toNode = /^regauth: the credential helper cannot refresh/;
    expect(store('another-secret').stderr).toMatch(toNode);
    expect(store('cached-secret', { CIRCLE_BUILD_NUM: '77' }).stderr).toMatch(toNode);
    rmSync(join(h.dir, 'routes', HOST));
    expect(store('cached-secret').stderr).toMatch(toNode);
    writeFileSync(join(h.dir, 'routes', HOST), `${h.recipe.group}\n`, { mode: 0o600 });
    h.seed('cached-secret', Math.floor(Date.now() / 1000) - 1, Math.floor(Date.now() / 1000) + 900);
    expect(store('cached-secret').stderr).toMatch(toNode);
  });
  it('refuses a host that is a path', () => {
    const h = harness();
    const run = spawnSync(scriptIn(h.home), ['get'], { input: '../../../etc/passwd', env: { HOME: h.home }, encoding: 'utf8' });
    expect([run.status, run.stdout]).toEqual([1, 'credentials not found in native keychain\n']);
  });
});
