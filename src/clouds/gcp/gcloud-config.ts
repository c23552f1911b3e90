import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join, normalize } from 'node:path';
import { exportVariable, record } from '../../core/journal.ts';
import { ensurePrivateDirectory, ownedByUs, readRegularFile, regauthHome, writePrivateFile } from '../../core/private-files.ts';
import type { Env } from '../../core/env.ts';

/**
 * gcloud caches the access tokens it gets through regauth's credential file in its config
 * directory (`access_tokens.db`, mode 0644), where they would outlive logout. So with
 * export_credentials gcloud's config directory becomes one of regauth's own (0700, on record, so
 * logout removes it whole and gives CLOUDSDK_CONFIG back), seeded with the job's own properties
 * (the active configuration and its files: project, region …) so gcloud keeps the job's settings.
 * No credential of the job's is copied.
 */
export function gcloudConfigPath(env: Env): string {
  return join(regauthHome(env), 'gcloud');
}

/** The directory gcloud reads now: CLOUDSDK_CONFIG, else ~/.config/gcloud. */
function currentGcloudConfig(env: Env): string {
  const configured = env.CLOUDSDK_CONFIG?.trim();
  return configured ? configured : join(env.HOME || homedir(), '.config', 'gcloud');
}

const MAX_PROPERTIES_BYTES = 65_536;

/** Copies one properties file when it is a small regular file of the job's user (no link followed). */
async function copyProperties(from: string, to: string): Promise<boolean> {
  const read = await readRegularFile(from);
  if (read.kind !== 'text' || !ownedByUs(read.stat) || read.text.length > MAX_PROPERTIES_BYTES) return false;
  await writePrivateFile(to, read.text);
  return true;
}

export async function isolateGcloudConfig(env: Env): Promise<{ directory: string; copied: number }> {
  const directory = gcloudConfigPath(env);
  const source = currentGcloudConfig(env);
  await record(env, { kind: 'dir', path: directory });
  await ensurePrivateDirectory(regauthHome(env));
  await ensurePrivateDirectory(directory);
  let copied = 0;
  if (normalize(source) !== normalize(directory)) {
    if (await copyProperties(join(source, 'active_config'), join(directory, 'active_config'))) copied += 1;
    if (await copyProperties(join(source, 'properties'), join(directory, 'properties'))) copied += 1;
    const names = await fs.readdir(join(source, 'configurations')).catch(() => [] as string[]);
    const configurations = names.filter((name) => /^config_[A-Za-z0-9_-]{1,64}$/.test(name));
    if (configurations.length > 0) await ensurePrivateDirectory(join(directory, 'configurations'));
    for (const name of configurations) if (await copyProperties(join(source, 'configurations', name), join(directory, 'configurations', name))) copied += 1;
  }
  await exportVariable(env, 'CLOUDSDK_CONFIG', directory);
  return { directory, copied };
}
