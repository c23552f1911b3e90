import type { MintedGroup, RefreshDeps } from '../clouds/provider.ts';
import type { Recipe } from './recipe.ts';

export type { MintedGroup, RefreshDeps } from '../clouds/provider.ts';

/**
 * One function per recipe kind: a fresh job token in, the group's credentials out. A cloud plugs
 * in with its provider's `refresh`, which the command module passes to `runHelper` (each
 * command's bundle carries only its own cloud); the function checks its own recipe fields.
 */
export type RefreshFunction = (recipe: Recipe, jobToken: string, deps: RefreshDeps) => Promise<MintedGroup>;

export type Refreshers = Readonly<Record<string, RefreshFunction>>;

export function refresherFor(refreshers: Refreshers, recipe: Recipe): RefreshFunction | undefined {
  // Own keys only: a kind read from a file never names something of Object's prototype.
  return Object.hasOwn(refreshers, recipe.kind) ? refreshers[recipe.kind] : undefined;
}
