import { describe, expect, it } from 'vitest';
import { CompileError, compileCommand, newJob, NO_OUTPUT_MESSAGE, runOrbCommand, type Orb } from '../../../testbed/step-runner.ts';

const orb: Orb = {
  commands: {
    demo: {
      parameters: {
        name: { type: 'string', default: 'world' },
        secret: { type: 'env_var_name', default: 'MY_TOKEN' },
        count: { type: 'integer', default: 3 },
        loud: { type: 'boolean', default: false },
      },
      steps: [
        {
          run: {
            name: 'demo',
            environment: { P_NAME: '<< parameters.name >>', P_SECRET: '<< parameters.secret >>', P_COUNT: '<< parameters.count >>', P_LOUD: '<< parameters.loud >>' },
            command: 'cat \\<<EOF\n$P_NAME $P_SECRET $P_COUNT $P_LOUD ${!P_SECRET} $FROM_BASH_ENV\nEOF\necho "export FROM_BASH_ENV=set-by-step" >> "$BASH_ENV"',
          },
        },
      ],
    },
  },
};

describe('the step runner (CircleCI semantics the end-to-end tests rely on)', () => {
  it('substitutes defaults and values, an env_var_name by its name, and unescapes \\<<', () => {
    const [step] = compileCommand(orb, 'demo', { name: 'ci', loud: true }) as [{ run: { environment: Record<string, unknown>; command: string } }];
    expect(step.run.environment).toEqual({ P_NAME: 'ci', P_SECRET: 'MY_TOKEN', P_COUNT: 3, P_LOUD: true });
    expect(step.run.command.startsWith('cat <<EOF')).toBe(true);
  });

  it('refuses what CircleCI refuses at compile time', () => {
    expect(() => compileCommand(orb, 'demo', { nope: 'x' })).toThrow(CompileError);
    expect(() => compileCommand(orb, 'demo', { secret: 'A;B' })).toThrow('expected an environment variable name');
    expect(() => compileCommand(orb, 'demo', { count: 'three' })).toThrow('expected type: integer');
    expect(() => compileCommand(orb, 'missing', {})).toThrow('Cannot find a definition');
  });

  it('runs bash -eo pipefail with the step environment and sources BASH_ENV at each step', async () => {
    const job = newJob({ MY_TOKEN: 'tok' });
    const first = await runOrbCommand(orb, 'demo', {}, job);
    expect(first.stdout).toBe('world MY_TOKEN 3 false tok \n');
    const second = await runOrbCommand(orb, 'demo', {}, job);
    expect(second.stdout).toBe('world MY_TOKEN 3 false tok set-by-step\n');
  });

  it('ends a step silent for longer than its no_output_timeout, and not one that keeps talking', async () => {
    const quiet: Orb = {
      commands: {
        wait: {
          parameters: { timeout: { type: 'string', default: '1s' }, talk: { type: 'boolean', default: false } },
          steps: [{ run: { name: 'wait', no_output_timeout: '<< parameters.timeout >>', environment: { TALK: '<< parameters.talk >>' }, command: 'for i in 1 2 3 4; do [ "$TALK" = true ] && echo tick; sleep 0.5; done; echo done' } }],
        },
      },
    };
    const silent = await runOrbCommand(quiet, 'wait', {}, newJob());
    expect(silent.exitCode).toBe(1);
    expect(silent.stdout).not.toContain('done');
    expect(silent.stderr).toContain(`${NO_OUTPUT_MESSAGE} 1s): context deadline exceeded`);
    const talking = await runOrbCommand(quiet, 'wait', { talk: true }, newJob());
    expect(talking.exitCode, talking.stderr).toBe(0);
    expect(talking.stdout).toContain('done');
  });
});
