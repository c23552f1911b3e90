import { describe, expect, it } from 'vitest';
import { obtainOidcToken } from '../../../src/job-token/token.ts';
import { ProcessStartError, type ProcessRequest, type ProcessResult } from '../../../src/core/process.ts';
import type { RetryDeps } from '../../../src/core/retry.ts';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../../../testbed/tempdir.ts';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const noWait: RetryDeps = { sleep: async () => undefined, random: () => 0 };

function jwt(payload: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(payload)}.c2ln`;
}
const fresh = (sub = 'v2') => jwt({ aud: 'ORG', sub, exp: NOW / 1000 + 1800 });
const expiring = jwt({ aud: 'ORG', sub: 'old', exp: NOW / 1000 + 30 });
const minted = jwt({ aud: 'ORG', sub: 'minted', exp: NOW / 1000 + 3600 });

/** A PATH with an (empty, never started) `circleci-agent`: the runs below go to the fake `run`. */
const agentDir = makeTempDir('regauth-oidc-token-').path;
writeFileSync(join(agentDir, 'circleci-agent'), '#!/bin/sh\nexit 99\n');
chmodSync(join(agentDir, 'circleci-agent'), 0o755);
const AGENT = join(agentDir, 'circleci-agent');
const onPath = { PATH: agentDir };

/** A fake agent: answers from a script, records argv. */
function fakeCli(answers: (ProcessResult | 'missing')[]) {
  const calls: ProcessRequest[] = [];
  const run = async (request: ProcessRequest): Promise<ProcessResult> => {
    calls.push(request);
    const next = answers.shift();
    if (next === undefined || next === 'missing') throw new ProcessStartError('circleci', 'ENOENT');
    return next;
  };
  return { run, calls };
}
const ok = (stdout: string): ProcessResult => ({ exitCode: 0, stdout, stderr: '' });

describe('obtainOidcToken', () => {
  it('prefers CIRCLE_OIDC_TOKEN_V2, then CIRCLE_OIDC_TOKEN, without running the CLI', async () => {
    const cli = fakeCli([]);
    const base = { now: () => NOW, run: cli.run, retryDeps: noWait };
    expect(await obtainOidcToken({ ...base, env: { CIRCLE_OIDC_TOKEN_V2: fresh('v2'), CIRCLE_OIDC_TOKEN: fresh('v1') } })).toEqual({ token: fresh('v2'), source: 'CIRCLE_OIDC_TOKEN_V2' });
    expect(await obtainOidcToken({ ...base, env: { CIRCLE_OIDC_TOKEN: fresh('v1') } })).toEqual({ token: fresh('v1'), source: 'CIRCLE_OIDC_TOKEN' });
    expect(cli.calls).toHaveLength(0);
  });

  it('mints with the asked audience through circleci run oidc get (aud on argv, no token on argv)', async () => {
    const cli = fakeCli([ok(`${minted}\n`)]);
    const result = await obtainOidcToken({ env: { ...onPath, CIRCLE_OIDC_TOKEN_V2: fresh() }, audience: 'sts.amazonaws.com', now: () => NOW, run: cli.run, retryDeps: noWait });
    expect(result).toEqual({ token: minted, source: 'circleci-agent run oidc get' });
    expect(cli.calls.map((c) => [c.command, ...c.args])).toEqual([[AGENT, 'run', 'oidc', 'get', '--claims', '{"aud":"sts.amazonaws.com"}']]);
  });

  it('retries a failed or empty mint, then succeeds', async () => {
    const cli = fakeCli([{ exitCode: 1, stdout: '', stderr: 'boom' }, ok('  \n'), ok(minted)]);
    const result = await obtainOidcToken({ env: onPath, audience: 'X', now: () => NOW, run: cli.run, retryDeps: noWait });
    expect(result.token).toBe(minted);
    expect(cli.calls).toHaveLength(3);
  });

  it('gives up after three attempts with one line naming the command', async () => {
    const cli = fakeCli([ok(''), ok(''), ok(''), ok(minted)]);
    await expect(obtainOidcToken({ env: onPath, audience: 'X', now: () => NOW, run: cli.run, retryDeps: noWait })).rejects.toThrow(
      /^could not mint an OIDC token with aud "X": circleci-agent run oidc get printed no token \(3 attempts\)/,
    );
  });

  it('does not retry when the agent cannot be started', async () => {
    const cli = fakeCli(['missing']);
    await expect(obtainOidcToken({ env: onPath, audience: 'X', now: () => NOW, run: cli.run, retryDeps: noWait })).rejects.toThrow(/circleci was not found on PATH/);
    expect(cli.calls).toHaveLength(1);
  });

  it('does not start anything when no agent is on PATH', async () => {
    const cli = fakeCli([ok(minted)]);
    await expect(obtainOidcToken({ env: { PATH: '' }, audience: 'X', now: () => NOW, run: cli.run, retryDeps: noWait })).rejects.toThrow(/neither circleci-agent nor circleci is on PATH/);
    expect(cli.calls).toHaveLength(0);
  });

  it('re-mints a token that expires within 60 s, with the same aud, when the CLI is there', async () => {
    const cli = fakeCli([ok(minted)]);
    const result = await obtainOidcToken({ env: { ...onPath, CIRCLE_OIDC_TOKEN_V2: expiring }, now: () => NOW, run: cli.run, retryDeps: noWait });
    expect(result).toMatchObject({ token: minted, source: 'circleci-agent run oidc get' });
    expect(result.replaced).toMatch(/^CIRCLE_OIDC_TOKEN_V2 expired or expires within 60 s \(exp \d\d:\d\d:\d\d UTC\); minted a fresh token with the same aud$/);
    expect(cli.calls.at(-1)?.args).toEqual(['run', 'oidc', 'get', '--claims', '{"aud":"ORG"}']);
  });

  it('keeps an expiring token when there is no agent (STS will say why)', async () => {
    const cli = fakeCli([ok(minted)]);
    expect(await obtainOidcToken({ env: { CIRCLE_OIDC_TOKEN_V2: expiring }, now: () => NOW, run: cli.run, retryDeps: noWait })).toEqual({ token: expiring, source: 'CIRCLE_OIDC_TOKEN_V2' });
  });

  it('explains a missing token', async () => {
    await expect(obtainOidcToken({ env: {}, now: () => NOW, run: fakeCli([]).run })).rejects.toThrow(/^no OIDC token: CIRCLE_OIDC_TOKEN_V2 and CIRCLE_OIDC_TOKEN are not set/);
  });
});
