import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
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

export async function exportProfile(env: Env, credentials: Required<AwsCredentials>, region: string): Promise<ExportedProfile> {
  const base = join(env.HOME ?? homedir(), '.regauth');
  await fs.mkdir(base, { recursive: true, mode: 0o700 });
  await fs.chmod(base, 0o700);
  const directory = join(base, `aws-${(env.CIRCLE_BUILD_NUM ?? '').replace(/\D/g, '') || process.pid}`);
  await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  await fs.chmod(directory, 0o700);
  const credentialsFile = join(directory, 'credentials');
  const configFile = join(directory, 'config');
  await writePrivate(
    credentialsFile,
    `[${PROFILE_NAME}]\naws_access_key_id = ${credentials.accessKeyId}\naws_secret_access_key = ${credentials.secretAccessKey}\naws_session_token = ${credentials.sessionToken}\n`,
  );
  await writePrivate(configFile, `[profile ${PROFILE_NAME}]\nregion = ${region}\n`);
  const bashEnvLines = [
    `export AWS_SHARED_CREDENTIALS_FILE=${shellQuote(credentialsFile)}`,
    `export AWS_CONFIG_FILE=${shellQuote(configFile)}`,
    `export AWS_PROFILE=${PROFILE_NAME}`,
  ];
  if (env.BASH_ENV) await fs.appendFile(env.BASH_ENV, `${bashEnvLines.join('\n')}\n`);
  return { directory, credentialsFile, configFile, bashEnvLines };
}

/** Created 0600 from the start (never readable by others, even for an instant). */
async function writePrivate(file: string, text: string): Promise<void> {
  await fs.rm(file, { force: true });
  await fs.writeFile(file, text, { mode: 0o600, flag: 'wx' });
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
