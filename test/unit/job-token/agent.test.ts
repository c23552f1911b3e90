import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findAgent } from '../../../src/job-token/agent.ts';
import { mintOidcToken, obtainOidcToken } from '../../../src/job-token/token.ts';
import { makeTempDir } from '../../../testbed/tempdir.ts';

/**
 * Real PATH directories with real (shell) programs: the agent's `run oidc get` is a seam that
 * cannot run here, so `circleci-agent` below is a STAND-IN that prints a fixed JWT-shaped string;
 * the foreign `circleci` stands in for the stand-alone CircleCI CLI.
 */
const root = makeTempDir('regauth-agent-');
afterAll(() => root.remove());
const TOKEN = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ aud: 'ORG', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')}.c2ln`;
let counter = 0;

/** A directory holding the named programs; each logs its argv to <dir>/<name>.calls. */
function bin(programs: Record<string, 'agent' | 'foreign' | 'hangs' | { linkTo: string }>): string {
  const dir = join(root.path, `bin${(counter += 1)}`);
  mkdirSync(dir);
  for (const [name, kind] of Object.entries(programs)) {
    const path = join(dir, name);
    if (typeof kind === 'object') {
      symlinkSync(kind.linkTo, path);
      continue;
    }
    const body =
      kind === 'agent'
        ? ['if [ "$*" = "run oidc get --help" ]; then echo "  --claims string   custom claims"; exit 0; fi', `if [ "$1 $2 $3 $4" = "run oidc get --claims" ]; then echo '${TOKEN}'; exit 0; fi`, 'exit 64']
        : kind === 'foreign'
          ? [`[ -n "$CIRCLE_OIDC_TOKEN_V2" ] && echo "saw a token" >> '${path}.calls'`, 'echo "Usage: circleci run [trigger|watch]"', 'exit 0']
          : ['exec /bin/sleep 30'];
    writeFileSync(path, ['#!/bin/bash', `printf '%s\\n' "$*" >> '${path}.calls'`, ...body, ''].join('\n'));
    chmodSync(path, 0o755);
  }
  return dir;
}
const calls = (dir: string, name: string): string[] => {
  try {
    return readFileSync(join(dir, `${name}.calls`), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const noWait = { sleep: async () => undefined, random: () => 0 };

describe('findAgent', () => {
  it('PATH with only circleci-agent: mints with circleci-agent, asking it nothing else', async () => {
    const dir = bin({ 'circleci-agent': 'agent' });
    expect(await findAgent({ PATH: dir })).toEqual({ found: true, command: join(dir, 'circleci-agent'), name: 'circleci-agent' });
    expect(await mintOidcToken('sts.amazonaws.com', { env: { PATH: dir }, retryDeps: noWait })).toBe(TOKEN);
    expect(calls(dir, 'circleci-agent')).toEqual(['run oidc get --claims {"aud":"sts.amazonaws.com"}']);
  });

  it("PATH with only circleci (the agent's alias, not a link): asks for help once, then mints with it", async () => {
    const dir = bin({ circleci: 'agent' });
    const token = await obtainOidcToken({ env: { PATH: dir }, audience: 'A', retryDeps: noWait });
    expect(token).toEqual({ token: TOKEN, source: 'circleci run oidc get' });
    expect(calls(dir, 'circleci')).toEqual(['run oidc get --help', 'run oidc get --claims {"aud":"A"}']);
  });

  it('circleci that links to a circleci-agent off PATH: the agent, without asking it anything', async () => {
    const agentDir = bin({ 'circleci-agent': 'agent' });
    const dir = bin({ circleci: { linkTo: join(agentDir, 'circleci-agent') } });
    expect(await findAgent({ PATH: dir })).toEqual({ found: true, command: join(dir, 'circleci'), name: 'circleci' });
    expect(calls(agentDir, 'circleci-agent')).toEqual([]);
  });

  it('a foreign circleci ahead of circleci-agent: circleci-agent mints, the foreign program is never started', async () => {
    const foreign = bin({ circleci: 'foreign' });
    const agent = bin({ 'circleci-agent': 'agent' });
    const env = { PATH: `${foreign}:${agent}` };
    expect(await obtainOidcToken({ env, audience: 'A', retryDeps: noWait })).toEqual({ token: TOKEN, source: 'circleci-agent run oidc get' });
    expect(calls(foreign, 'circleci')).toEqual([]);
  });

  it('only a foreign circleci: one line saying so, and it is asked for help only (never `run oidc get --claims`)', async () => {
    const dir = bin({ circleci: 'foreign' });
    const error = (await mintOidcToken('A', { env: { PATH: dir, CIRCLE_OIDC_TOKEN_V2: TOKEN }, retryDeps: noWait }).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      `could not mint an OIDC token with aud "A": ${join(dir, 'circleci')} is not CircleCI's job agent (its help offers no --claims), nor is circleci-agent on PATH`,
    );
    expect(calls(dir, 'circleci')).toEqual(['run oidc get --help']);
  });

  it('neither: one line naming both, nothing started', async () => {
    const dir = bin({});
    await expect(mintOidcToken('A', { env: { PATH: dir }, retryDeps: noWait })).rejects.toThrow(/^could not mint an OIDC token with aud "A": neither circleci-agent nor circleci is on PATH$/);
  });

  it('a circleci whose help never ends is given up on at the deadline', async () => {
    const dir = bin({ circleci: 'hangs' });
    const lookup = await findAgent({ PATH: dir }, { probeDeadlineMs: 300 });
    expect(lookup).toEqual({ found: false, problem: expect.stringMatching(/its help gave no answer within 0.3 s/) });
  });

  it('a job token that is still valid is used without any agent on PATH', async () => {
    const dir = bin({});
    expect(await obtainOidcToken({ env: { PATH: dir, CIRCLE_OIDC_TOKEN_V2: TOKEN } })).toEqual({ token: TOKEN, source: 'CIRCLE_OIDC_TOKEN_V2' });
  });
});
