import { describe, expect, it } from 'vitest';
import type { ProcessRequest, RunProcess } from '../../../src/core/process.ts';
import { pullDocker, PULL_WATCH_TICK_MS } from '../../../src/pull/docker-pull.ts';
import { PullStalled, stallDeadlineMs } from '../../../src/pull/stall.ts';
import { classifyPullError } from '../../../src/pull/classify.ts';
import { fakeClock } from '../../support/fake-clock.ts';

describe('the stall deadline', () => {
  const clock = fakeClock;

  it('ends a docker pull that stays silent, through the process wrapper, and counts it transient', async () => {
    const time = clock();
    let request: ProcessRequest | undefined;
    const run: RunProcess = (req) =>
      new Promise((resolve) => {
        request = req;
        req.onOutput?.('v1: Pulling from x\n', 'stdout');
        req.signal?.addEventListener('abort', () => resolve({ exitCode: 143, stdout: '', stderr: '' }));
      });
    const docker = pullDocker(run, {}, { clock: time, stallMs: 60_000, terminal: true });
    const pulled = docker.pull('r/x:v1', undefined);
    const failed = pulled.catch((error: unknown) => error);
    time.advance(30_000);
    request?.onOutput?.('abc123abc123: Downloading  1MB/2MB\r', 'stdout');
    time.advance(59_000);
    expect(request?.signal?.aborted).toBe(false);
    time.advance(1_000 + PULL_WATCH_TICK_MS);
    expect(request?.signal?.aborted).toBe(true);
    const error = await failed;
    expect(error).toBeInstanceOf(PullStalled);
    expect(classifyPullError(error)).toMatchObject({ kind: 'transient', reason: 'docker pull made no progress for 60 s (no bytes, no output), so regauth ended it' });
    // On a terminal: a constant command, the reference in the environment.
    expect(request).toMatchObject({ command: 'script', args: ['-q', '-e', '-f', '-c', expect.stringContaining('"$REGAUTH_PULL_REFERENCE"'), '/dev/null'], env: { REGAUTH_PULL_REFERENCE: 'r/x:v1' } });
  });

  it('is a minute on a terminal, ten without one, and REGAUTH_PULL_STALL_SECONDS overrides it', () => {
    expect(stallDeadlineMs({}, true)).toBe(60_000);
    expect(stallDeadlineMs({}, false)).toBe(600_000);
    expect(stallDeadlineMs({ REGAUTH_PULL_STALL_SECONDS: '5' }, true)).toBe(5_000);
    expect(stallDeadlineMs({ REGAUTH_PULL_STALL_SECONDS: 'soon' }, true)).toBe(60_000);
  });
});
