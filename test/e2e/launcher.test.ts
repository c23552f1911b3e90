import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oldNodeScript } from '../support/fake-node.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep } from '../../testbed/step-runner.ts';
import { makeTempDir } from '../../testbed/tempdir.ts';

/** A PATH holding only the named tools, so a step sees a machine that lacks the others. */
function pathWith(tools: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'regauth-path-'));
  for (const [name, target] of Object.entries(tools)) {
    if (target.startsWith('#!')) {
      writeFileSync(join(dir, name), target);
      chmodSync(join(dir, name), 0o755);
    } else {
      symlinkSync(target, join(dir, name));
    }
  }
  return dir;
}

const orb = loadOrb();
/** The image families the launcher's one line names (issue 24: these have node; cimg/base and plain cimg/python, go, openjdk do not). */
const IMAGES = 'use cimg/node, cimg/aws, a cimg/*-node image or a machine executor';
const node = process.execPath;
const docker = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();

describe('the launcher every step starts with', () => {
  it('says what to do when node is missing', async () => {
    const job = newJob({ PATH: pathWith({}) });
    const result = await runOrbCommand(orb, 'logout', {}, job);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe(`regauth: node was not found on PATH; regauth needs node >= 18: ${IMAGES}`);
  });

  it('refuses a node that is too old', async () => {
    const job = newJob({ PATH: pathWith({ node: oldNodeScript('16.20.2'), docker }) });
    const result = await runOrbCommand(orb, 'logout', {}, job);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe(`regauth: node v16.20.2 is too old; regauth needs node >= 18: ${IMAGES}`);
  });

  it('accepts node 18, the floor', async () => {
    const job = newJob({ PATH: pathWith({ node: oldNodeScript('18.0.0'), docker }), DOCKER_CONFIG: join(tmpdir(), `regauth-launcher-18-${process.pid}`) });
    const result = await runOrbCommand(orb, 'logout', {}, job);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it('says what to do when the docker CLI is missing', async () => {
    const job = newJob({ PATH: pathWith({ node }) });
    const result = await runOrbCommand(orb, 'logout', {}, job);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe('regauth: the docker CLI was not found on PATH: use a machine executor, or an image with the docker CLI (and setup_remote_docker)');
  });

  it('runs the bundle with nothing but bash, node and docker on PATH', async () => {
    const job = newJob({ PATH: pathWith({ node, docker }), DOCKER_CONFIG: join(tmpdir(), `regauth-launcher-${process.pid}`) });
    const result = await runOrbCommand(orb, 'logout', {}, job);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^regauth: regauth\/logout \S+\nregauth: nothing to log out of/);
  });

  it('refuses a cut payload in one line naming the sha256 it expected', async () => {
    const cut = loadOrb();
    const steps = (cut.commands.logout?.steps ?? []) as { run?: { command: string; environment: Record<string, string> } }[];
    const run = steps.find((step) => step.run)?.run;
    if (!run) throw new Error('logout has no run step');
    run.environment.REGAUTH_PAYLOAD_1 = (run.environment.REGAUTH_PAYLOAD_1 ?? '').slice(0, -100);
    const expected = /^regauth_sha256=([0-9a-f]{64})$/m.exec(run.command)?.[1];
    const job = newJob({ PATH: pathWith({ node, docker }) });
    const result = await runOrbCommand(cut, 'logout', {}, job);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`regauth: the payload is damaged: its sha256 is not ${expected}\n`);
  });

  it('keeps the payload from every child: docker, what docker starts, BASH_ENV and the next step', async () => {
    const dumps = makeTempDir('regauth-env-dumps-').path;
    // A docker that writes the environment it was given (one file per call) and fails like a
    // registry that refuses, so pull ends early; the payload must be in none of the files.
    const shim = `#!/bin/bash\nexport -p > "${dumps}/docker-$$-$RANDOM.env"\necho 'Error response from daemon: pull access denied' >&2\nexit 1\n`;
    const job = newJob({ PATH: pathWith({ node, docker: shim }), DOCKER_CONFIG: join(tmpdir(), `regauth-launcher-env-${process.pid}`) });
    const result = await runOrbCommand(orb, 'pull', { images: 'registry.invalid/a:1', max_attempts: 1 }, job);
    expect(result.exitCode).not.toBe(0);
    const files = readdirSync(dumps);
    expect(files.length).toBeGreaterThan(0);
    const steps = (orb.commands.pull?.steps ?? []) as { run?: { environment: Record<string, string> } }[];
    const run = steps.find((step) => step.run)?.run ?? { environment: {} };
    const parts = Object.entries(run.environment).filter(([key]) => key.startsWith('REGAUTH_PAYLOAD_'));
    expect(parts.length).toBeGreaterThan(0);
    for (const file of files) {
      const seen = readFileSync(join(dumps, file), 'utf8');
      // The shim ran and wrote its environment (bash's `export -p`), which holds none of the payload.
      expect(seen).toMatch(/^declare -x PATH=/m);
      expect(seen).not.toContain('REGAUTH_PAYLOAD');
      for (const [, value] of parts) expect(seen).not.toContain(value.slice(0, 64));
      expect(seen).not.toMatch(/regauth_payload/);
    }
    expect(existsSync(job.bashEnvFile) ? readFileSync(job.bashEnvFile, 'utf8') : '').not.toContain('REGAUTH_PAYLOAD');
    const next = await runUserStep(job, 'env');
    expect(next.stdout).not.toContain('REGAUTH_PAYLOAD');
  });
});
