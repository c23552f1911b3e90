import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readJournal, record } from '../../../src/core/journal.ts';
import { bindToJob } from '../../../src/refresh/job.ts';
import { abandonHelperDir, prepareHelperDir } from '../../../src/refresh/setup.ts';
import { makeTempDir, type TempDir } from '../../../testbed/tempdir.ts';

describe('the helper directory a login makes while its cloud mints', () => {
  const homes: TempDir[] = [];
  afterEach(async () => {
    for (const home of homes.splice(0)) await home.remove();
  });
  const freshHome = () => {
    const home = makeTempDir('regauth-setup-');
    homes.push(home);
    return { HOME: home.path };
  };
  const helper = (env: { HOME: string }) => join(env.HOME, '.regauth', 'helper');

  it('is on record before it exists, private, and holds node, the bundle and the script', async () => {
    const env = freshHome();
    const prepared = await prepareHelperDir(env, 'aws-ecr', '/* bundle */');
    expect(prepared).toEqual({ dir: helper(env), created: true, recorded: true });
    expect(lstatSync(prepared.dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(prepared.dir, 'bundles', 'aws-ecr.cjs'), 'utf8')).toBe('/* bundle */');
    expect(readFileSync(join(prepared.dir, 'node'), 'utf8')).toBe(`${process.execPath}\n`);
    expect(lstatSync(join(prepared.dir, 'docker-credential-regauth')).mode & 0o777).toBe(0o700);
    expect((await readJournal(env)).entries).toEqual([{ kind: 'dir', path: prepared.dir }]);
  });

  it('goes again with its record when the login fails before serving', async () => {
    const env = freshHome();
    await abandonHelperDir(env, await prepareHelperDir(env, 'aws-ecr', '/* bundle */'));
    expect(existsSync(helper(env))).toBe(false);
    expect((await readJournal(env)).entries).toEqual([]);
  });

  it('stays when another login of the job already serves a registry from it (a background step)', async () => {
    const env = freshHome();
    const prepared = await prepareHelperDir(env, 'aws-ecr', '/* bundle */');
    await record(env, { kind: 'file', path: join(prepared.dir, 'cache', 'registry.example:5000'), host: 'registry.example:5000' });
    await abandonHelperDir(env, prepared);
    expect(existsSync(join(prepared.dir, 'bundles', 'aws-ecr.cjs'))).toBe(true);
    expect((await readJournal(env)).entries.map((entry) => entry.kind)).toEqual(['dir', 'file']);
  });

  it("stays when an earlier login of this job made it (another job's leftover is discarded, so it is this login's own)", async () => {
    const env = freshHome();
    mkdirSync(helper(env), { recursive: true, mode: 0o700 });
    await bindToJob(helper(env), env);
    const prepared = await prepareHelperDir(env, 'aws-ecr', '/* bundle */');
    expect(prepared.created).toBe(false);
    await abandonHelperDir(env, prepared);
    expect(existsSync(join(prepared.dir, 'bundles', 'aws-ecr.cjs'))).toBe(true);
  });
});
