import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory, regauthHome, writePrivateFile } from '../../core/private-files.ts';
import type { AwsCredentials } from './index.ts';
import type { Env } from '../../inputs/common.ts';

/**
 * export_credentials: the temporary keys go into an AWS profile of regauth's own (credentials and
 * config files 0600 in a 0700 directory); $BASH_ENV only learns where they are. Later steps'
 * AWS CLI and SDKs find them through AWS_PROFILE / AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE.
 */
export const PROFILE_NAME = 'regauth';

export interface ExportedProfile {
  directory: string;
  credentialsFile: string;
  configFile: string;
  /** Lines appended to $BASH_ENV (paths and the profile name, never a key). */
  bashEnvLines: string[];
}

/** Where the profile goes: ~/.regauth/aws-<build number>/{credentials,config}. */
export function profilePaths(env: Env): Pick<ExportedProfile, 'directory' | 'credentialsFile' | 'configFile'> {
  const directory = join(regauthHome(env), `aws-${(env.CIRCLE_BUILD_NUM ?? '').replace(/\D/g, '') || process.pid}`);
  return { directory, credentialsFile: join(directory, 'credentials'), configFile: join(directory, 'config') };
}

/**
 * Writes the profile at profilePaths(env). Every directory on the way must be a real directory
 * of ours (a link to ~/.aws would have regauth rewrite, and logout delete, the user's own
 * files), and each file is created fresh, 0600, without following a link.
 */
export async function exportProfile(env: Env, credentials: Required<AwsCredentials>, region: string): Promise<ExportedProfile> {
  const { directory, credentialsFile, configFile } = profilePaths(env);
  await ensurePrivateDirectory(regauthHome(env));
  await ensurePrivateDirectory(directory);
  await writePrivateFile(
    credentialsFile,
    `[${PROFILE_NAME}]\naws_access_key_id = ${credentials.accessKeyId}\naws_secret_access_key = ${credentials.secretAccessKey}\naws_session_token = ${credentials.sessionToken}\n`,
  );
  await writePrivateFile(configFile, `[profile ${PROFILE_NAME}]\nregion = ${region}\n`);
  const bashEnvLines = [
    `export AWS_SHARED_CREDENTIALS_FILE=${shellQuote(credentialsFile)}`,
    `export AWS_CONFIG_FILE=${shellQuote(configFile)}`,
    `export AWS_PROFILE=${PROFILE_NAME}`,
  ];
  if (env.BASH_ENV) await fs.appendFile(env.BASH_ENV, `${bashEnvLines.join('\n')}\n`);
  return { directory, credentialsFile, configFile, bashEnvLines };
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
