import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportVariable, journalPath, parseEntry, readJournal, record, restoreLine } from '../../../src/core/journal.ts';

const home = () => mkdtempSync(join(tmpdir(), 'regauth-journal-'));

describe('the journal', () => {
  it('records each thing once, 0600 in a 0700 directory: what logout gives back is the value before regauth\'s first change', async () => {
    const env = { HOME: home() };
    expect(await record(env, { kind: 'export', name: 'AWS_PROFILE', previous: 'job-own' })).toBe(true);
    expect(await record(env, { kind: 'export', name: 'AWS_PROFILE', previous: 'regauth' })).toBe(false);
    expect((await readJournal(env)).entries).toEqual([{ kind: 'export', name: 'AWS_PROFILE', previous: 'job-own' }]);
    expect(statSync(journalPath(env)).mode & 0o777).toBe(0o600);
    expect(statSync(join(env.HOME, '.regauth')).mode & 0o777).toBe(0o700);
  });

  it('an export is on record before $BASH_ENV has it, and logout\'s line quotes the previous value', async () => {
    const dir = home();
    const bashEnv = join(dir, 'bash-env');
    writeFileSync(bashEnv, '');
    const env = { HOME: dir, BASH_ENV: bashEnv, GOOGLE_APPLICATION_CREDENTIALS: "/it's/mine" };
    await exportVariable(env, 'GOOGLE_APPLICATION_CREDENTIALS', '/home/x/.regauth/gcp-1/credentials.json');
    expect(readFileSync(bashEnv, 'utf8')).toBe("export GOOGLE_APPLICATION_CREDENTIALS='/home/x/.regauth/gcp-1/credentials.json'\n");
    const [entry] = (await readJournal(env)).entries;
    expect(entry).toEqual({ kind: 'export', name: 'GOOGLE_APPLICATION_CREDENTIALS', previous: "/it's/mine" });
    expect(restoreLine(entry as Parameters<typeof restoreLine>[0])).toBe("export GOOGLE_APPLICATION_CREDENTIALS='/it'\\''s/mine'");
    expect(restoreLine({ kind: 'export', name: 'AWS_PROFILE' })).toBe('unset AWS_PROFILE');
  });

  it('reads hostile lines as nothing', () => {
    for (const line of ['{', '[]', '{"kind":"export"}', '{"kind":"program","path":"/x","route":"curl"}', '{"kind":"docker-auth","configDir":"/d","key":"r.io","previous":{"auth":1}}']) {
      expect(parseEntry(line)).toBeUndefined();
    }
  });
});
