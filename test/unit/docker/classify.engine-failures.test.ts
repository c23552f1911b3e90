import { describe, expect, it } from 'vitest';
import { classifyDockerOutput, DISK_FULL, ENGINE_ABSENT, ENGINE_PERMISSION } from '../../../src/docker/classify.ts';
import { classifyFailure } from '../../../src/pull/classify.ts';

/** The engine's common failures, in docker's own wording (docker 20–28), each read as one permanent line with its fix. */
const cases: Array<[string, string, string]> = [
  ['socket permission (docker 20–24)', 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Head "http://%2Fvar%2Frun%2Fdocker.sock/_ping": dial unix /var/run/docker.sock: connect: permission denied', ENGINE_PERMISSION],
  ['socket permission (docker 28)', 'permission denied while trying to connect to the docker API at unix:///var/run/docker.sock', ENGINE_PERMISSION],
  ['no engine at DOCKER_HOST', 'Cannot connect to the Docker daemon at unix:///tmp/nothing.sock. Is the docker daemon running?', ENGINE_ABSENT],
  ['no engine over tcp', 'error during connect: Get "http://10.0.0.9:2375/v1.47/info": dial tcp 10.0.0.9:2375: connect: connection refused', ENGINE_ABSENT],
  ['full disk during pull', 'failed to register layer: write /var/lib/docker/overlay2/abc/diff/usr/lib/x.so: no space left on device', DISK_FULL],
];

describe('engine failures', () => {
  it.each(cases)('%s: one permanent reason with its fix', (_name, output, reason) => {
    const verdict = classifyDockerOutput({ exitCode: 1, output: `${output}\n` });
    expect(verdict?.kind).toBe('permanent');
    expect(verdict?.reason).toBe(reason);
    expect(classifyFailure({ exitCode: 1, output: `${output}\n` }).reason).toBe(reason);
  });

  it('each reason is one line under 160 characters that says what to do', () => {
    for (const reason of [ENGINE_PERMISSION, ENGINE_ABSENT, DISK_FULL]) {
      expect(reason.length).toBeLessThanOrEqual(160);
      expect(reason).not.toMatch(/\n/);
    }
    expect(ENGINE_PERMISSION).toMatch(/docker group/);
    expect(ENGINE_PERMISSION).toMatch(/setup_remote_docker/);
    expect(ENGINE_ABSENT).toMatch(/DOCKER_HOST/);
    expect(DISK_FULL).toMatch(/no space left on device/);
  });
});
