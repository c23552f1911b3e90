import { join } from 'node:path';
import { UserError } from '../../core/errors.ts';
import { exportVariable, record } from '../../core/journal.ts';
import { ensurePrivateDirectory, regauthHome, writePrivateFile } from '../../core/private-files.ts';
import type { Env } from '../../core/env.ts';
import { generateAccessTokenUrl, providerAudience, stsTokenUrl, type GoogleMintSettings } from './mint.ts';

/**
 * export_credentials for Google: an `external_account` credential file that gcloud and the
 * Google client libraries read. Where the job token comes from is a parameter: a file today
 * (static: valid while that token is), an `executable` that mints a fresh one later.
 */
export type CredentialSource =
  | { file: string; format: { type: 'text' } }
  | { executable: { command: string; timeout_millis: number; output_file?: string } };

/** The file's JSON (pure). Holds no secret itself: only where to find the job token. */
export function externalAccountConfig(settings: GoogleMintSettings, source: CredentialSource): Record<string, unknown> {
  return {
    type: 'external_account',
    audience: providerAudience(settings.workloadIdentityProvider),
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: stsTokenUrl(settings.endpoints),
    ...(settings.serviceAccount === ''
      ? {}
      : {
          service_account_impersonation_url: generateAccessTokenUrl(settings.endpoints, settings.serviceAccount),
          service_account_impersonation: { token_lifetime_seconds: settings.tokenLifetimeSeconds },
        }),
    credential_source: source,
  };
}

export interface ExportedCredentialFile {
  directory: string;
  credentialFile: string;
  /** Every file written (logout removes them). */
  files: string[];
  /** What later steps get: paths and switches, never a token. */
  exports: { name: 'GOOGLE_APPLICATION_CREDENTIALS' | 'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE' | 'GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES'; value: string }[];
}

/** $HOME/.regauth/gcp-<build>: made 0700 by regauth; a link or a foreign directory there is refused. */
export async function privateDirectory(env: Env): Promise<string> {
  const base = regauthHome(env);
  const directory = join(base, `gcp-${(env.CIRCLE_BUILD_NUM ?? '').replace(/\D/g, '') || process.pid}`);
  await ensurePrivateDirectory(base);
  await ensurePrivateDirectory(directory);
  return directory;
}

/**
 * Writes `credentials.json` into `directory`. Its path reaches later steps through the journal's
 * export (src/core/journal.ts), as GOOGLE_APPLICATION_CREDENTIALS and
 * CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE (plus GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 for an
 * executable source): `exports` says what to export, never a token.
 */
export async function writeExternalAccountFile(_env: Env, directory: string, settings: GoogleMintSettings, source: CredentialSource): Promise<ExportedCredentialFile> {
  const credentialFile = externalAccountFilePath(directory);
  await writePrivateFile(credentialFile, `${JSON.stringify(externalAccountConfig(settings, source), null, 2)}\n`);
  const exports: ExportedCredentialFile['exports'] = [
    { name: 'GOOGLE_APPLICATION_CREDENTIALS', value: credentialFile },
    { name: 'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE', value: credentialFile },
  ];
  if ('executable' in source) exports.push({ name: 'GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES', value: '1' });
  return { directory, credentialFile, files: [credentialFile], exports };
}

/** Where writeExternalAccountFile puts the file (known before, so it can be on record first). */
export function externalAccountFilePath(directory: string): string {
  return join(directory, 'credentials.json');
}

/** Where jobTokenFileSource puts the job token. */
export function jobTokenFilePath(directory: string): string {
  return join(directory, 'oidc-token');
}

/** The static source: the job token in a 0600 file beside the credential file. */
export async function jobTokenFileSource(directory: string, jobToken: string): Promise<{ source: CredentialSource; file: string }> {
  const file = jobTokenFilePath(directory);
  await writePrivateFile(file, jobToken);
  return { source: { file, format: { type: 'text' } }, file };
}

const EXECUTABLE_TIMEOUT_MS = 30_000;

/**
 * refresh on: the credential file's source is docker-credential-regauth (`helper`), which mints a
 * fresh job token whenever Google's libraries ask. On record before the file exists (a step killed
 * while writing leaves nothing logout cannot see); its path exported through the journal.
 */
export async function exportHelperSourcedFile(env: Env, settings: GoogleMintSettings, helper: { path: string; group: string }): Promise<ExportedCredentialFile> {
  // Google's libraries split the command on spaces: a path with one cannot be named there.
  if (/\s/.test(helper.path)) throw new UserError(`export_credentials with refresh needs the credential helper at a path without spaces, but it is ${helper.path}; set refresh: false or use a HOME without spaces`);
  const directory = await privateDirectory(env);
  await record(env, { kind: 'file', path: externalAccountFilePath(directory) });
  const source: CredentialSource = { executable: { command: `${helper.path} google-executable ${helper.group}`, timeout_millis: EXECUTABLE_TIMEOUT_MS } };
  return exportFile(env, directory, settings, source);
}

/** refresh off: as version 1, the job token in a 0600 file the credential file reads (valid while it is). */
export async function exportTokenSourcedFile(env: Env, settings: GoogleMintSettings, jobToken: string): Promise<ExportedCredentialFile & { tokenFile: string }> {
  const directory = await privateDirectory(env);
  for (const path of [jobTokenFilePath(directory), externalAccountFilePath(directory)]) await record(env, { kind: 'file', path });
  const { source, file } = await jobTokenFileSource(directory, jobToken);
  return { ...(await exportFile(env, directory, settings, source)), tokenFile: file };
}

async function exportFile(env: Env, directory: string, settings: GoogleMintSettings, source: CredentialSource): Promise<ExportedCredentialFile> {
  const exported = await writeExternalAccountFile(env, directory, settings, source);
  for (const { name, value } of exported.exports) await exportVariable(env, name, value);
  return exported;
}
