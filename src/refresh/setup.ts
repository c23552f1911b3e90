import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { dockerConfigDir, readDockerConfig, withConfigLock, writeDockerConfig } from '../docker/config.ts';
import type { RunProcess } from '../core/process.ts';
import type { Env } from '../inputs/common.ts';
import { awsEntryName, awsProcessAnswer, dockerAnswer, hostEntryName, writeEntry } from './cache.ts';
import { ensurePrivateDir, helperDir, layout, writeAtomic } from './files.ts';
import { HELPER_NAME, helperScript } from './helper-script.ts';
import { installHelper, shellQuote, type Installed } from './install.ts';
import { refreshAtSeconds } from './margin.ts';
import type { Recipe, UngroupedRecipe } from './recipe.ts';
import { readHelperState, writeHelperState } from './state.ts';
import { bundleSource } from './bundle-source.ts';
import { audiences, type TokenClaims } from '../job-token/index.ts';
import type { Reporter } from '../core/output.ts';
import { clockTime } from '../core/units.ts';
import { isOnPath } from '../core/path-lookup.ts';

/** What a login hands over so that the helper serves its registries from now on. */
export interface ServeInput {
  env: Env;
  run: RunProcess;
  /** The recipe without its group id (derived here). */
  recipe: UngroupedRecipe;
  registries: { host: string; username: string; secret: string; expiresAt: Date }[];
  awsCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date };
  /** The command's own bundle (JS), which answers `--regauth-helper …`; run by node on refresh. */
  bundleSource: string;
  issuedAtMs: number;
}

export interface Served {
  group: string;
  helperPath: string;
  installed: Installed;
}

/** Same recipe, same group: logging in twice replaces the group rather than adding one. */
export function groupId(recipe: UngroupedRecipe): string {
  const key: Record<string, unknown> = { ...recipe };
  delete key.hosts;
  return `${recipe.kind}-${createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 12)}`;
}

export async function serveThroughHelper(input: ServeInput): Promise<Served> {
  const { env } = input;
  const dir = helperDir(env);
  await ensurePrivateDir(dirname(dir));
  await ensurePrivateDir(dir);
  const paths = layout(dir);
  const group = groupId(input.recipe);
  const recipe = { ...input.recipe, group } as Recipe;

  await writeAtomic(paths.node, `${process.execPath}\n`);
  await writeAtomic(paths.bundle(recipe.kind), input.bundleSource);
  await writeAtomic(paths.recipe(group), `${JSON.stringify(recipe, null, 2)}\n`);
  for (const registry of input.registries) {
    const expiresAt = registry.expiresAt.getTime();
    await writeEntry(dir, hostEntryName(registry.host), {
      refreshAt: refreshAtSeconds(input.issuedAtMs, expiresAt),
      answer: dockerAnswer(registry.host, registry.username, registry.secret),
      expiresAt: Math.floor(expiresAt / 1000),
    });
    await writeAtomic(paths.route(registry.host), `${group}\n`);
  }
  if (input.awsCredentials) {
    const expiresAt = input.awsCredentials.expiration.getTime();
    await writeEntry(dir, awsEntryName(group), { refreshAt: refreshAtSeconds(input.issuedAtMs, expiresAt), answer: awsProcessAnswer(input.awsCredentials), expiresAt: Math.floor(expiresAt / 1000) });
  }

  const source = join(dir, HELPER_NAME);
  await writeAtomic(source, helperScript(), 0o700);
  const installed = await installHelper(env, input.run, source, dir);

  const state = await readHelperState(env);
  state.installed = { path: installed.path, route: installed.route };
  if (!state.groups.includes(group)) state.groups.push(group);
  if (installed.bashEnvLines.length > 0 && state.pathAdded !== dirname(installed.path)) {
    if (env.BASH_ENV) await fs.appendFile(env.BASH_ENV, `${installed.bashEnvLines.join('\n')}\n`);
    state.pathAdded = dirname(installed.path);
  }

  const configDir = dockerConfigDir(env);
  await withConfigLock(configDir, async () => {
    const config = await readDockerConfig(configDir);
    const helpers = { ...config.credHelpers };
    for (const { host } of input.registries) {
      const known = state.entries.find((entry) => entry.configDir === configDir && entry.host === host);
      if (known) known.group = group;
      else state.entries.push({ configDir, host, group, ...(Object.hasOwn(helpers, host) && helpers[host] !== 'regauth' ? { previous: helpers[host] ?? '' } : {}) });
      helpers[host] = 'regauth';
    }
    config.credHelpers = helpers;
    // The fixed password docker login just wrote is shadowed by the helper: it goes.
    for (const { host } of input.registries) if (config.auths && Object.hasOwn(config.auths, host)) delete config.auths[host];
    await writeDockerConfig(configDir, config);
    await fs.chmod(join(configDir, 'config.json'), 0o600).catch(() => undefined);
  });
  await writeHelperState(env, state);
  return { group, helperPath: installed.path, installed };
}

/**
 * export_credentials with refresh: an AWS profile whose keys come from the helper
 * (`credential_process`), so the AWS CLI and SDKs fetch fresh ones as expiry nears; $BASH_ENV
 * gets the config file's path and the profile name, never a key.
 */
export async function exportRefreshingAwsProfile(env: Env, served: Served, region: string, profile: string): Promise<{ configFile: string; exported: string[] }> {
  const configFile = layout(helperDir(env)).awsConfig;
  const command = /\s/.test(served.helperPath) ? `"${served.helperPath}"` : served.helperPath;
  await writeAtomic(configFile, `[profile ${profile}]\nregion = ${region}\ncredential_process = ${command} aws-credentials ${served.group}\n`);
  const lines = [`export AWS_CONFIG_FILE=${shellQuote(configFile)}`, `export AWS_PROFILE=${profile}`];
  if (env.BASH_ENV) await fs.appendFile(env.BASH_ENV, `${lines.join('\n')}\n`);
  const state = await readHelperState(env);
  state.exported = [...new Set([...state.exported, 'AWS_CONFIG_FILE', 'AWS_PROFILE'])];
  await writeHelperState(env, state);
  return { configFile, exported: ['AWS_CONFIG_FILE', 'AWS_PROFILE'] };
}

/**
 * Whether a login can hand its registries to the helper: `refresh` on, a packed bundle to refresh
 * with, and an audience to mint the job token with later. `fallback` is the line to print when
 * refresh was asked for but cannot be had (the login then uses fixed passwords, as version 1).
 */
export function planRefresh(refresh: boolean, audience: string): { bundle: string } | { fallback?: string } {
  if (!refresh) return {};
  const bundle = bundleSource();
  if (bundle && audience) return { bundle };
  return { fallback: `refresh is on but ${bundle ? 'the job token names no audience to mint again' : 'this run has no packed bundle to refresh with'}; logging in with fixed passwords instead` };
}

/** The aud a refresh mints its job token with: the login's, else the token's own, else the org id. */
export function refreshAudience(given: string, claims: TokenClaims, env: Env): string {
  return given || audiences(claims)[0] || env.CIRCLE_ORGANIZATION_ID || '';
}

/** docker's environment for the login right after serving: it must find the helper just installed. */
export function dockerEnvWithHelper(env: Env, served: Served): Env {
  return served.installed.route === 'bash-env' ? { ...env, PATH: `${dirname(served.helperPath)}:${env.PATH ?? ''}` } : env;
}

/**
 * What every refreshing login prints once its registries are served (each registry's own line,
 * `… renews itself`, is the login's): where the helper is, one line; how it got there and when it
 * renews only with REGAUTH_DEBUG=1, unless the route needs the user's attention.
 */
export async function announceServed(reporter: Reporter, env: Env, served: Served, lastsUntil: Date): Promise<void> {
  const { route, note } = served.installed;
  if (route === 'bash-env') reporter.line(`regauth: credential helper: ${note}`);
  else {
    reporter.line(`regauth: credential helper: installed ${served.helperPath}`);
    reporter.detail(`regauth:   ${route === 'sudo' ? 'through passwordless sudo; ' : ''}its directory is on the job's PATH, so every later step and shell finds it`);
  }
  reporter.detail('regauth:   it renews a login from a fresh job token when less than 5 minutes are left');
  if (!(await isOnPath('circleci', env.PATH))) {
    reporter.line(`regauth: the circleci CLI is not on PATH in this step, so a later refresh cannot mint a job token; the credentials last until ${clockTime(lastsUntil)}`);
  }
}
