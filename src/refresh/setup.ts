import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { dockerConfigDir, readDockerConfig, withConfigLock, writeDockerConfig } from '../docker/config.ts';
import type { RunProcess } from '../core/process.ts';
import type { Env } from '../core/env.ts';
import { awsEntryName, awsProcessAnswer, hostEntryName, writeEntry } from './cache.ts';
import { dockerAnswer } from './docker-protocol.ts';
import { ensurePrivateDir, helperDir, layout, writeAtomic } from './files.ts';
import { HELPER_NAME, helperScript } from './helper-script.ts';
import { installHelper, type Installed } from './install.ts';
import { refreshAtSeconds } from './margin.ts';
import type { Recipe, UngroupedRecipe } from './recipe.ts';
import { prependPath, readJournal, record, recordAll, retract, type JournalEntry } from '../core/journal.ts';
import { isInside } from '../core/private-files.ts';
import { processArgument } from '../clouds/aws/profile.ts';
import { bundleSource } from './bundle-source.ts';
import { bindToJob, discardOtherJobs } from './job.ts';
import type { Reporter } from '../core/output.ts';
import { findAgent } from '../job-token/agent.ts';
import { clockTime } from '../core/units.ts';

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

/** What a login's helper directory holds before any credential exists: the part made while it mints. */
export interface PreparedDir {
  dir: string;
  /** Whether this login made the directory (a failed login then takes it away again). */
  created: boolean;
  /** Whether its `dir` record is this login's. */
  recorded: boolean;
}

/**
 * The helper's own directory, made without a credential (another job's leftovers discarded, bound
 * to this job, node's path, the bundle and the script written), so a login can do it while its
 * cloud answers. Nothing reads it before docker's config names the helper, which comes last.
 */
export async function prepareHelperDir(env: Env, kind: string, bundleSource: string): Promise<PreparedDir> {
  const dir = helperDir(env);
  // What another job left here without logout (persistent machines) is not this job's to serve.
  await discardOtherJobs(env, dir);
  const created = !(await fs.lstat(dir).then(() => true, () => false));
  // On record before it exists (logout removes the directory whole).
  const [recorded = false] = await recordAll(env, [{ kind: 'dir', path: dir }]);
  await ensurePrivateDir(dirname(dir));
  await ensurePrivateDir(dir);
  await bindToJob(dir, env);
  const paths = layout(dir);
  // The directories a refresh writes into: made here, never by the refresh (src/refresh/fence.ts).
  await Promise.all([ensurePrivateDir(dirname(paths.cache('x'))), ensurePrivateDir(dirname(paths.lock('x')))]);
  await Promise.all([
    writeAtomic(paths.node, `${process.execPath}\n`),
    writeAtomic(paths.bundle(kind), bundleSource),
    writeAtomic(join(dir, HELPER_NAME), helperScript(), 0o700),
  ]);
  return { dir, created, recorded };
}

/**
 * A login that failed before serving: a directory it made goes again, and so does its record,
 * unless another login of the job (a background step) already serves a registry from it.
 */
export async function abandonHelperDir(env: Env, prepared: PreparedDir): Promise<void> {
  if (!prepared.created) return;
  const { entries } = await readJournal(env);
  if (entries.some((entry) => entry.kind === 'file' && isInside(prepared.dir, entry.path))) return;
  await fs.rm(prepared.dir, { recursive: true, force: true });
  if (prepared.recorded) await retract(env, [{ kind: 'dir', path: prepared.dir }]);
}

export async function serveThroughHelper(input: ServeInput & { prepared?: Promise<PreparedDir> }): Promise<Served> {
  const { env } = input;
  const { dir } = await (input.prepared ?? prepareHelperDir(env, input.recipe.kind, input.bundleSource));
  const paths = layout(dir);
  // On record before they exist: each host's cache and route (a logout of that host removes them),
  // then below the program and the config entries.
  await recordAll(env, input.registries.flatMap(({ host }): JournalEntry[] => [
    { kind: 'file', path: paths.cache(hostEntryName(host)), host },
    { kind: 'file', path: paths.route(host), host },
  ]));
  const group = groupId(input.recipe);
  const recipe = { ...input.recipe, group } as Recipe;

  // Independent files, written at once: nothing reads them before docker's config names the
  // helper, which happens last, below.
  const source = join(dir, HELPER_NAME);
  const aws = input.awsCredentials;
  await Promise.all([
    writeAtomic(paths.recipe(group), `${JSON.stringify(recipe, null, 2)}\n`),
    ...input.registries.flatMap((registry) => {
      const expiresAt = registry.expiresAt.getTime();
      return [
        writeEntry(dir, hostEntryName(registry.host), {
          refreshAt: refreshAtSeconds(input.issuedAtMs, expiresAt),
          answer: dockerAnswer(registry.host, registry.username, registry.secret),
          expiresAt: Math.floor(expiresAt / 1000),
        }),
        writeAtomic(paths.route(registry.host), `${group}\n`),
      ];
    }),
    ...(aws
      ? [writeEntry(dir, awsEntryName(group), { refreshAt: refreshAtSeconds(input.issuedAtMs, aws.expiration.getTime()), answer: awsProcessAnswer(aws), expiresAt: Math.floor(aws.expiration.getTime() / 1000) })]
      : []),
  ]);
  const installed = await installHelper(env, input.run, source, dir, async (path, route) => {
    await record(env, { kind: 'program', path, route });
  });
  if (installed.route === 'bash-env') await prependPath(env, dirname(installed.path));

  const configDir = dockerConfigDir(env);
  await withConfigLock(configDir, async () => {
    const config = await readDockerConfig(configDir);
    const helpers = { ...config.credHelpers };
    const changes: JournalEntry[] = [];
    for (const { host } of input.registries) {
      // 'regauth' there is a leftover of an earlier job, not the job's own helper: nothing to give back.
      const own = Object.hasOwn(helpers, host) && helpers[host] !== 'regauth' ? helpers[host] : undefined;
      changes.push({ kind: 'cred-helper', configDir, key: host, value: 'regauth', ...(own !== undefined ? { previous: own } : {}) });
      // A password in auths is shadowed by the helper: it goes, on record with its value, so
      // logout gives back an entry the job had (a runner's, an earlier step's) byte for byte.
      const auth = config.auths?.[host];
      changes.push({ kind: 'docker-auth', configDir, key: host, ...(auth ? { previous: { ...auth } } : {}) });
      helpers[host] = 'regauth';
      if (config.auths && Object.hasOwn(config.auths, host)) delete config.auths[host];
    }
    await recordAll(env, changes);
    config.credHelpers = helpers;
    await writeDockerConfig(configDir, config);
    await fs.chmod(join(configDir, 'config.json'), 0o600).catch(() => undefined);
  });
  return { group, helperPath: installed.path, installed };
}

/** The credential_process line of a refreshing AWS profile: docker-credential-regauth for this group. */
export function refreshingCredentialProcess(served: Served): string {
  return `${processArgument(served.helperPath)} aws-credentials ${served.group}`;
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
  const agent = await findAgent(env);
  if (!agent.found) reporter.line(`regauth: credentials last until ${clockTime(lastsUntil)}, no renewal: ${agent.problem}`);
}
