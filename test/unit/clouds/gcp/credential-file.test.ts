import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportHelperSourcedFile, exportTokenSourcedFile } from '../../../../src/clouds/gcp/credential-file.ts';
import { DEFAULT_GOOGLE_ENDPOINTS, type GoogleMintSettings } from '../../../../src/clouds/gcp/mint.ts';
import { readJournal } from '../../../../src/core/journal.ts';

const SETTINGS: GoogleMintSettings = {
  workloadIdentityProvider: 'projects/123/locations/global/workloadIdentityPools/circleci/providers/acme-org',
  serviceAccount: 'ci-pull@p.iam.gserviceaccount.com',
  tokenLifetimeSeconds: 1800,
  endpoints: DEFAULT_GOOGLE_ENDPOINTS,
};

function job(): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'regauth-gcp-export-'));
  const bashEnv = join(home, 'bash-env');
  writeFileSync(bashEnv, '');
  return { HOME: home, BASH_ENV: bashEnv, CIRCLE_BUILD_NUM: '77' };
}

describe('export_credentials for Google', () => {
  it('refresh on: the file names the helper as its executable source, on record first, its path exported through the journal', async () => {
    const env = job();
    const exported = await exportHelperSourcedFile(env, SETTINGS, { path: '/home/u/bin/docker-credential-regauth', group: 'gcp-0123456789ab' });
    expect(exported.credentialFile).toBe(join(env.HOME ?? '', '.regauth', 'gcp-77', 'credentials.json'));
    expect(statSync(exported.credentialFile).mode & 0o777).toBe(0o600);
    const config = JSON.parse(readFileSync(exported.credentialFile, 'utf8')) as { credential_source: unknown };
    expect(config.credential_source).toEqual({ executable: { command: '/home/u/bin/docker-credential-regauth google-executable gcp-0123456789ab', timeout_millis: 30_000 } });
    const { entries } = await readJournal(env);
    expect(entries[0]).toMatchObject({ kind: 'file', path: exported.credentialFile });
    expect(entries.filter((entry) => entry.kind === 'export').map((entry) => entry.kind === 'export' && entry.name)).toEqual(['GOOGLE_APPLICATION_CREDENTIALS', 'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE', 'GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES']);
    expect(readFileSync(env.BASH_ENV ?? '', 'utf8')).toContain(`export GOOGLE_APPLICATION_CREDENTIALS='${exported.credentialFile}'`);
  });

  it('refresh on: a helper path with a space (which Google\'s libraries would split) is refused before anything is written', async () => {
    const env = job();
    await expect(exportHelperSourcedFile(env, SETTINGS, { path: '/home/my user/bin/docker-credential-regauth', group: 'gcp-0123456789ab' })).rejects.toThrow(/without spaces/);
    expect((await readJournal(env)).entries).toEqual([]);
    expect(readFileSync(env.BASH_ENV ?? '', 'utf8')).toBe('');
  });

  it('refresh off: the job token sits in a 0600 file beside the credential file, both on record', async () => {
    const env = job();
    const exported = await exportTokenSourcedFile(env, SETTINGS, 'eyJ.job.token');
    expect(readFileSync(exported.tokenFile, 'utf8')).toBe('eyJ.job.token');
    expect(statSync(exported.tokenFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(exported.credentialFile, 'utf8'))).toMatchObject({ credential_source: { file: exported.tokenFile, format: { type: 'text' } } });
    const files = (await readJournal(env)).entries.filter((entry) => entry.kind === 'file');
    expect(files.map((entry) => entry.kind === 'file' && entry.path)).toEqual([exported.tokenFile, exported.credentialFile]);
    expect(readFileSync(env.BASH_ENV ?? '', 'utf8')).not.toContain('eyJ.job.token');
  });
});
