import type { RetryDeps } from '../core/retry.ts';
import type { Env } from '../inputs/common.ts';
import type { RunProcess } from '../core/process.ts';
import type { Recipe, RecipeKind } from './recipe.ts';

/** What one refresh of a group yields: docker answers per host, and AWS keys when the kind has them. */
export interface MintedGroup {
  registries: { host: string; username: string; secret: string; expiresAt: Date }[];
  awsCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date };
  /** Values to keep out of every line the helper prints. */
  secrets: string[];
}

export interface RefreshDeps {
  env: Env;
  run: RunProcess;
  retry: RetryDeps;
}

/**
 * One function per recipe kind: a fresh job token in, the group's credentials out. A cloud plugs
 * in by adding its recipe to the `Recipe` union and its function to the table it passes to
 * `helperMain` from its command module (each command's bundle carries only its own cloud).
 */
export type RefreshFunction<R extends Recipe> = (recipe: R, jobToken: string, deps: RefreshDeps) => Promise<MintedGroup>;

export type Refreshers = { [K in RecipeKind]?: RefreshFunction<Extract<Recipe, { kind: K }>> };

export function refresherFor(refreshers: Refreshers, recipe: Recipe): RefreshFunction<Recipe> | undefined {
  return refreshers[recipe.kind] as RefreshFunction<Recipe> | undefined;
}
