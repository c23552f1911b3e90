import type { StoredRecipe, UngroupedRecipe as CloudUngroupedRecipe } from '../clouds/provider.ts';

/**
 * A recipe says how to mint one registry group's credentials again, later in the job, from a
 * fresh job token. It holds no secret (role, region, accounts, audience …), so it is safe on disk.
 * The engine knows only what every recipe has (kind, group, audience, hosts: the contract in
 * src/clouds/provider.ts); each cloud's provider builds its own and checks it when it refreshes.
 */
export type Recipe = StoredRecipe;
/** A recipe as a login builds it, before its group id is derived. */
export type UngroupedRecipe = CloudUngroupedRecipe;

// Both are POSIX extended regular expressions too: the bash helper tests the same patterns.
export const GROUP = /^[a-z][a-z0-9]*(-[a-z0-9]+)+$/;
export const HOST = /^[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?$/;

/** The kind a group id starts with (`aws-ecr-1f2e…` → `aws-ecr`). */
export function kindOfGroup(group: string): string {
  return group.slice(0, group.lastIndexOf('-'));
}

/** Checks what any recipe must have; the kind's own fields are checked by its refresher. */
export function parseRecipe(text: string): Recipe {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object') throw new Error('the recipe is not a JSON object');
  const recipe = value as Partial<Recipe>;
  if (typeof recipe.kind !== 'string' || typeof recipe.group !== 'string' || !GROUP.test(recipe.group) || kindOfGroup(recipe.group) !== recipe.kind) throw new Error('the recipe has no valid kind and group');
  if (typeof recipe.audience !== 'string' || recipe.audience === '') throw new Error('the recipe has no audience');
  if (!Array.isArray(recipe.hosts) || !recipe.hosts.every((host) => typeof host === 'string' && HOST.test(host))) throw new Error('the recipe has no valid hosts');
  return recipe as Recipe;
}

export function isValidHost(host: string): boolean {
  return HOST.test(host);
}
