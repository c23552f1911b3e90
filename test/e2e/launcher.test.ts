import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oldNodeScript } from '../support/fake-node.ts';
import { loadOrb, newJob, runOrbCommand } from '../support/step-runner.ts';

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
const node = process.execPath;
const docker = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();

describe('the launcher every step starts with', () => {
  it('says what to do when node is missing', async () => {
    const job = newJob({ PATH: pathWith({}) });
    const result = await runOrbCommand(orb, 'logout', {}, job);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe('regauth: node was not found on PATH; regauth needs node >= 20 and the docker CLI: use a machine executor (ubuntu-2204 images have both) or a cimg/*-node image');
  });

  it('refuses a node that is too old', async () => {
    const job = newJob({ PATH: pathWith({ node: oldNodeScript('16.20.2'), docker }) });
    const result = await runOrbCommand(orb, 'logout', {}, job);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe('regauth: node v16.20.2 is too old; regauth needs node >= 20: use a machine executor or a newer cimg/*-node image');
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
});
