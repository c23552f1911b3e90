import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/core/cli.ts';
import { UserError } from '../../../src/core/errors.ts';
import { loginLine, remote, Reporter, withoutRemote, type Sink } from '../../../src/core/output.ts';
import { expandedValuesToHide } from '../../../src/inputs/common.ts';

function capture(): { reporter: Reporter; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]): Sink => ({ write: (text) => into.push(text) });
  return { reporter: new Reporter(undefined, sink(out), sink(err)), out, err };
}

describe('values that came from the environment', () => {
  const env = {
    REGAUTH_REGISTRY: '${REG_HOST}',
    REG_HOST: 'Secret-Registry.Example.com',
    REGAUTH_ROLE_ARN: '${AWS_ROLE_ARN}',
    AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/ci-pull',
    REGAUTH_ROLE_SESSION_NAME: 'ci-${SESSION_PART}',
    SESSION_PART: 'tok3n-like-value',
  };

  it('are listed with their source, except the documented defaults users read back', () => {
    const hidden = expandedValuesToHide(env);
    expect(hidden).toContainEqual({ value: 'Secret-Registry.Example.com', shownAs: '${REG_HOST}' });
    expect(hidden).toContainEqual({ value: 'tok3n-like-value', shownAs: '${SESSION_PART}' });
    expect(hidden.some((entry) => entry.value.includes('role/ci-pull'))).toBe(false);
  });

  it('are printed as ${VAR} in every line, lower-cased or inside remote text too, and the role ARN stays', async () => {
    const { reporter, out, err } = capture();
    const code = await runCommand(
      'login',
      (_env, r) => {
        r.line(`regauth: logged in to secret-registry.example.com as ${env.AWS_ROLE_ARN}`);
        r.line(`regauth: session ci-tok3n-like-value`);
        throw new UserError(`could not log in to secret-registry.example.com: ${remote('dial tcp Secret-Registry.Example.com:443: refused')}`);
      },
      env,
      reporter,
    );
    expect(code).toBe(1);
    const text = [...out, ...err].join('');
    expect(text).not.toMatch(/secret-registry|tok3n/i);
    expect(out).toEqual(['regauth: regauth/login dev\n', 'regauth: logged in to ${REG_HOST} as arn:aws:iam::123456789012:role/ci-pull\n', 'regauth: session ci-${SESSION_PART}\n']);
    expect(err).toEqual(['regauth: login: could not log in to ${REG_HOST}: "dial tcp ${REG_HOST}:443: refused"\n']);
  });
});

describe('one style', () => {
  it('a registry line names host, identity, expiry as HH:MM:SS UTC and renewal', () => {
    expect(loginLine('r.example.com', { identity: 'arn:aws:iam::1:role/x', renewal: 'renews itself' }, new Date(Date.UTC(2026, 0, 1, 8, 39, 57)))).toBe(
      'regauth: logged in to r.example.com as arn:aws:iam::1:role/x, valid until 08:39:57 UTC, renews itself',
    );
  });

  it('a retry line carries no remote text (the failure line has it once); REGAUTH_DEBUG shows it', () => {
    const { reporter, out } = capture();
    reporter.retrying('login to r.example.com', 1, remote('Get "https://r.example.com/v2/": EOF'), 500);
    reporter.retrying('sts:AssumeRoleWithWebIdentity', 2, `Throttling: ${remote('Rate exceeded')}`, 1500);
    expect(out).toEqual(['regauth: login to r.example.com failed (attempt 1); retrying in 0.5 s\n', 'regauth: sts:AssumeRoleWithWebIdentity failed (attempt 2: Throttling); retrying in 1.5 s\n']);
    reporter.verbose = true;
    reporter.retrying('login to r.example.com', 1, remote('EOF'), 500);
    expect(out.at(-1)).toBe('regauth:   attempt 1: "EOF"\n');
    expect(withoutRemote(`the registry refused the credentials (${remote('401')})`)).toBe('the registry refused the credentials');
  });
});
