import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deadRun, fingerprint, leftoverPlant } from '../../support/global-setup.ts';
import { scratchRoot } from '../../../testbed/tempdir.ts';

/**
 * The global setup's judgement of what a killed test run left: its plants are removed, never put
 * back as if they were the machine's. (Run roots must sit in /tmp: that is where plants name them.)
 */
describe('the global setup recognises what a killed run left', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const path of made.splice(0)) rmSync(path, { recursive: true, force: true });
  });

  function runRoot(pid: number): string {
    const root = mkdtempSync('/tmp/regauth-run-');
    made.push(root);
    writeFileSync(join(root, 'pid'), `${pid}\n`);
    return root;
  }

  function marks(...helperDirs: string[]): string {
    const dir = mkdtempSync(join(scratchRoot(), 'marks-'));
    made.push(dir);
    helperDirs.forEach((helper, index) => writeFileSync(join(dir, `m${index}`), `${helper}\n`));
    return dir;
  }

  const planted = (root: string): string => `${root}/planted-job/.regauth/helper`;
  // A pid no process has: above the kernel's limit.
  const GONE = 4_194_304 + 1;

  it('a run whose pid is gone is dead; this one is not', () => {
    expect(deadRun(runRoot(GONE))).toBe(true);
    expect(deadRun(runRoot(process.pid))).toBe(false);
  });

  it('marks naming only planted jobs of dead or vanished runs are a leftover plant', () => {
    expect(leftoverPlant(marks(planted(runRoot(GONE))))).toBe(true);
    expect(leftoverPlant(marks('/tmp/regauth-run-vanished0/planted-job/.regauth/helper'))).toBe(true);
  });

  it('a live run\'s plant, or any real job\'s mark beside it, is not', () => {
    expect(leftoverPlant(marks(planted(runRoot(GONE)), planted(runRoot(process.pid))))).toBe(false);
    expect(leftoverPlant(marks(planted(runRoot(GONE)), '/home/circleci/.regauth/helper'))).toBe(false);
    expect(leftoverPlant(marks())).toBe(false);
  });

  it('fingerprints what a job could change: bytes, mode and entries', () => {
    const dir = marks('/a');
    const before = fingerprint(dir);
    writeFileSync(join(dir, 'm0'), '/b\n');
    expect(fingerprint(dir)).not.toBe(before);
    mkdirSync(join(dir, 'sub'));
    expect(fingerprint(join(dir, 'missing'))).toBe(fingerprint(join(dir, 'missing-too')));
  });
});
