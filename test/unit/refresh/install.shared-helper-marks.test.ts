import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM_ROOT_OVERRIDE } from '../../../src/core/places.ts';
import { releaseSharedUser } from '../../../src/refresh/install.ts';
import { makeTempDir, type TempDir } from '../../../testbed/tempdir.ts';

/**
 * Who still uses the shared system helper (issue 25, item 9), decided from every user's marks in
 * the machine's temp directory — here a stand-in machine (REGAUTH_TEST_SYSTEM_ROOT). Marks of
 * another uid need root to plant, so those cases run as root only.
 */
const isRoot = process.getuid?.() === 0;
const OTHER = 4242;

describe('releaseSharedUser: the shared program stays while any user\'s live job is marked', () => {
  let scratch: TempDir;
  afterEach(() => scratch?.remove());

  function machine() {
    scratch = makeTempDir('regauth-marks-');
    const env = { [SYSTEM_ROOT_OVERRIDE]: scratch.path };
    const tmp = join(scratch.path, 'tmp');
    mkdirSync(tmp, { mode: 0o1777 });
    /** A job's helper directory; live while it exists (logout removes it last). */
    const job = (name: string, live: boolean): string => {
      const dir = join(scratch.path, 'homes', name, '.regauth', 'helper');
      if (live) mkdirSync(dir, { recursive: true });
      return dir;
    };
    const marks = (uid: number, helperDirs: readonly string[], mode = 0o755): string => {
      const dir = join(tmp, `regauth-helper-users-${uid}`);
      mkdirSync(dir, { mode });
      chmodSync(dir, mode);
      helperDirs.forEach((helper, index) => {
        writeFileSync(join(dir, `mark${index}`), `${helper}\n`, { mode: 0o644 });
        chownSync(join(dir, `mark${index}`), uid, uid);
      });
      chownSync(dir, uid, uid);
      return dir;
    };
    return { env, tmp, job, marks };
  }

  it('is false when only this job was marked, and drops this job\'s mark and its user\'s stale ones', async () => {
    const { env, job, marks } = machine();
    const me = job('me', true);
    const stale = job('gone', false);
    const mine = marks(process.getuid?.() ?? 0, [me, stale]);
    expect(await releaseSharedUser(me, env)).toBe(false);
    expect(readdirSync(mine)).toEqual([]);
  });

  it.runIf(isRoot)('is true while another user\'s job is live, and false once it is gone', async () => {
    const { env, job, marks } = machine();
    const me = job('me', true);
    const other = job('other', true);
    marks(OTHER, [other]);
    expect(await releaseSharedUser(me, env)).toBe(true);
    rmSync(other, { recursive: true });
    expect(await releaseSharedUser(me, env)).toBe(false);
  });

  it.runIf(isRoot)('ignores marks it cannot trust: a directory others can write, a link, or one owned by another uid than its name says', async () => {
    const { env, tmp, job, marks } = machine();
    const me = job('me', true);
    const other = job('other', true);
    marks(OTHER, [other], 0o777);
    expect(await releaseSharedUser(me, env)).toBe(false);

    const real = join(tmp, 'elsewhere');
    mkdirSync(real, { mode: 0o755 });
    writeFileSync(join(real, 'mark'), `${other}\n`);
    symlinkSync(real, join(tmp, 'regauth-helper-users-4343'));
    expect(await releaseSharedUser(me, env)).toBe(false);

    const wrongOwner = join(tmp, 'regauth-helper-users-4444');
    mkdirSync(wrongOwner, { mode: 0o755 });
    writeFileSync(join(wrongOwner, 'mark'), `${other}\n`);
    chownSync(wrongOwner, OTHER, OTHER);
    expect(await releaseSharedUser(me, env)).toBe(false);
  });
});
