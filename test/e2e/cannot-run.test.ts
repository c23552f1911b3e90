import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadOrb, newJob, runOrbCommand, type CommandResult, type JobContext, type Orb, type ParameterValue } from '../../testbed/step-runner.ts';
import { makeTempDir } from '../../testbed/tempdir.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * Where regauth cannot run, the packed step says so in one line (issue 24): exit non-zero, and
 * stderr is exactly one `regauth: ` line naming what is missing, never a stack trace. The job's
 * PATH holds only what each case grants (links to the real programs). Node 16 cannot be had from
 * Debian 12: its `node` is a STAND-IN, the real node with a preload that makes it report v16.
 */
const enabled = requireTools(['docker', 'node']);
const toolPath = (name: string): string => execFileSync('/bin/bash', ['-c', 'command -v "$1"', 'bash', name], { encoding: 'utf8' }).trim();

describe.runIf(enabled)('one line where regauth cannot run', () => {
  let orb: Orb;
  const root = makeTempDir('regauth-cannot-run-').path;
  let count = 0;

  beforeAll(() => {
    orb = loadOrb();
  });

  /** A directory holding links to `tools` (and whatever else `extra` writes): the job's whole PATH. */
  function pathWith(tools: readonly string[], extra?: (dir: string) => void): string {
    const dir = join(root, `bin${(count += 1)}`);
    mkdirSync(dir);
    for (const tool of tools) symlinkSync(toolPath(tool), join(dir, tool));
    extra?.(dir);
    return dir;
  }

  function job(path: string, env: Record<string, string> = {}): JobContext {
    const context = newJob(env);
    context.env.PATH = path;
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }

  async function step(name: string, params: Record<string, ParameterValue>, context: JobContext): Promise<CommandResult> {
    return runOrbCommand(orb, name, params, { ...context, env: { ...context.env, REG_USER: 'ci', REG_PASS: 'not-used-pw' } });
  }

  function expectOneLine(result: CommandResult, names: RegExp): void {
    expect(result.exitCode).not.toBe(0);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^regauth: /);
    expect(lines[0]).toMatch(names);
    expect(lines[0]?.length ?? 0).toBeLessThanOrEqual(300);
    expect(result.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
  }

  const login = { registry: '127.0.0.1:1', username: 'REG_USER', password: 'REG_PASS' };

  it('without node', async () => {
    expectOneLine(await step('login', login, job(pathWith(['docker']))), /\bnode\b.*(not found|missing)/i);
  });

  it('with node 16 (a stand-in: the real node made to report v16.20.2)', async () => {
    const path = pathWith(['docker'], (dir) => {
      const preload = join(dir, 'as-node-16.cjs');
      writeFileSync(preload, "Object.defineProperty(process, 'version', { value: 'v16.20.2' });\nObject.defineProperty(process.versions, 'node', { value: '16.20.2' });\n");
      writeFileSync(join(dir, 'node'), `#!/bin/bash\n# STAND-IN for node 16 (not obtainable from Debian 12)\nexec '${toolPath('node')}' --require '${preload}' "$@"\n`, { mode: 0o755 });
    });
    expectOneLine(await step('login', login, job(path)), /node v16\.20\.2 is too old/);
  });

  it('without the docker CLI', async () => {
    expectOneLine(await step('login', login, job(pathWith(['node']))), /docker CLI was not found/);
  });

  it('with the docker CLI but no reachable engine (regauth/pull)', async () => {
    const context = job(process.env.PATH ?? '/usr/bin:/bin', { DOCKER_HOST: `unix://${join(root, 'no-engine.sock')}` });
    expectOneLine(await step('pull', { images: 'registry.example.test/app:1.0' }, context), /docker|engine|daemon/i);
  });
});
