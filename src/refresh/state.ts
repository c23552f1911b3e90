import type { Env } from '../inputs/common.ts';
import { helperDir, layout, readOwned, writeAtomic } from './files.ts';
import type { InstallRoute } from './install.ts';

/**
 * What regauth set up for the helper in this job, so that logout undoes exactly that: the
 * installed script, each credHelpers entry (and the user's own entry it replaced), the groups,
 * and the variables regauth exported through $BASH_ENV. Holds no secret.
 */
export interface HelperEntry {
  /** The docker config directory whose config.json has the entry. */
  configDir: string;
  host: string;
  group: string;
  /** The user's own credHelpers value for this host before regauth's; absent: there was none. */
  previous?: string;
}

export interface HelperState {
  installed?: { path: string; route: InstallRoute['route'] };
  entries: HelperEntry[];
  groups: string[];
  /** Variables regauth exported through $BASH_ENV (logout unsets them). */
  exported: string[];
  /** A directory regauth added to PATH through $BASH_ENV. */
  pathAdded?: string;
}

export async function readHelperState(env: Env): Promise<HelperState> {
  const text = await readOwned(layout(helperDir(env)).state);
  const empty: HelperState = { entries: [], groups: [], exported: [] };
  if (text === undefined) return empty;
  try {
    const parsed = JSON.parse(text) as Partial<HelperState>;
    return {
      ...(parsed.installed ? { installed: parsed.installed } : {}),
      entries: Array.isArray(parsed.entries) ? parsed.entries : [],
      groups: Array.isArray(parsed.groups) ? parsed.groups : [],
      exported: Array.isArray(parsed.exported) ? parsed.exported : [],
      ...(parsed.pathAdded ? { pathAdded: parsed.pathAdded } : {}),
    };
  } catch {
    return empty;
  }
}

export async function writeHelperState(env: Env, state: HelperState): Promise<void> {
  await writeAtomic(layout(helperDir(env)).state, `${JSON.stringify(state, null, 2)}\n`);
}

/** Records variables an export wrote to $BASH_ENV, for logout to unset. */
export async function recordExports(env: Env, names: readonly string[]): Promise<void> {
  const state = await readHelperState(env);
  state.exported = [...new Set([...state.exported, ...names])];
  await writeHelperState(env, state);
}
