import { join } from 'node:path';
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
