import { promises as fs } from 'node:fs';
import { readDockerConfig, withConfigLock, writeDockerConfig } from '../docker/config.ts';
import type { RunProcess } from '../core/process.ts';
import type { Env } from '../inputs/common.ts';
import { hostEntryName } from './cache.ts';
import { helperDir, layout, removeQuietly } from './files.ts';
import { releaseSharedUser, shellQuote, uninstallHelper } from './install.ts';
import { readHelperState, writeHelperState, type HelperEntry } from './state.ts';

export interface HelperTeardown {
  /** Hosts whose credHelpers entry regauth removed (or gave back to the user's own helper). */
  hosts: string[];
  /** Files and directories removed. */
  removed: string[];
  /** Lines appended to $BASH_ENV. */
  bashEnvLines: string[];
  /** What stays, and why. */
  kept: string[];
}

/**
 * regauth/logout's share for the helper: with `hosts` undefined everything (entries, cache,
 * recipes, bundles, the installed script, the refreshing profile, exported variables); with hosts,
 * only those hosts' entries and cache.
 */
export async function removeHelper(env: Env, run: RunProcess, hosts: readonly string[] | undefined): Promise<HelperTeardown> {
  const dir = helperDir(env);
  const state = await readHelperState(env);
  const report: HelperTeardown = { hosts: [], removed: [], bashEnvLines: [], kept: [] };
  const chosen = state.entries.filter((entry) => hosts === undefined || hosts.includes(entry.host));
  const byConfig = new Map<string, HelperEntry[]>();
  for (const entry of chosen) byConfig.set(entry.configDir, [...(byConfig.get(entry.configDir) ?? []), entry]);
  for (const [configDir, entries] of byConfig) {
    await withConfigLock(configDir, async () => {
      const config = await readDockerConfig(configDir).catch(() => undefined);
      if (!config?.credHelpers) return;
      for (const entry of entries) {
        if (config.credHelpers[entry.host] !== 'regauth') continue;
        if (entry.previous !== undefined) config.credHelpers[entry.host] = entry.previous;
        else delete config.credHelpers[entry.host];
      }
      if (Object.keys(config.credHelpers).length === 0) delete config.credHelpers;
      await writeDockerConfig(configDir, config);
    });
  }
  for (const entry of chosen) {
    report.hosts.push(entry.host);
    await removeQuietly(layout(dir).cache(hostEntryName(entry.host)));
    await removeQuietly(layout(dir).route(entry.host));
  }
  state.entries = state.entries.filter((entry) => !chosen.includes(entry));
  if (hosts !== undefined && state.entries.length > 0) {
    await writeHelperState(env, state);
    return report;
  }

  if (state.installed) {
    const shared = state.installed.route === 'system-path' || state.installed.route === 'sudo';
    if (shared && (await releaseSharedUser(dir, env))) report.kept.push(`${state.installed.path} (another job on this machine still uses it)`);
    else if (await uninstallHelper(state.installed.path, state.installed.route, run, env)) report.removed.push(state.installed.path);
  }
  const lines: string[] = [];
  if (state.exported.length > 0) lines.push(`unset ${state.exported.join(' ')}`);
  if (state.pathAdded) {
    const quoted = shellQuote(state.pathAdded);
    // Unquoted on purpose: an assignment does not split, and the quoted pattern matches literally.
    lines.push(`PATH=":$PATH:"; PATH=\${PATH//:${quoted}:/:}; PATH=\${PATH#:}; PATH=\${PATH%:}`);
  }
  if (lines.length > 0 && env.BASH_ENV) await fs.appendFile(env.BASH_ENV, `${lines.join('\n')}\n`);
  report.bashEnvLines = lines;
  if (await removeQuietly(dir)) report.removed.push(dir);
  return report;
}
