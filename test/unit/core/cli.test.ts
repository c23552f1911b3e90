import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/core/cli.ts';
import { UserError } from '../../../src/core/errors.ts';
import { remote, Reporter, type Sink } from '../../../src/core/output.ts';

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
