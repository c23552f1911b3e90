import type { Env } from '../core/env.ts';
import type { Reporter } from '../core/output.ts';
import type { RunProcess } from '../core/process.ts';
import type { RetryDeps, RetryPolicy } from '../core/retry.ts';
import type { OidcToken, TokenClaims } from '../job-token/index.ts';

/**
 * What a cloud is to regauth: one provider object per folder under src/clouds/, which parses the
 * cloud's inputs, mints its credentials from a job token, builds the recipe a later refresh
 * follows, and explains a refusal. A login runs the mint once through `login`; the credential
 * helper runs the same mint again through `refresh`. The refresh engine (src/refresh) knows
 * clouds only through the types of this file; it never imports a cloud.
 */

/** One registry's docker credentials, as a mint yields them. */
export interface RegistryCredentials {
  host: string;
  username: string;
  secret: string;
  expiresAt: Date;
}

/** AWS keys, for an exported profile whose credential_process is the helper. */
export interface ProfileCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/**
 * What every recipe holds, whatever its cloud; it holds no secret, so it is safe on disk. The
 * engine derives `group` (`<kind>-<hex>`: names the group's cache, lock and bundle files) and
 * reads the rest; a cloud adds its own fields and checks them itself when it refreshes.
 */
export type RecipeBase = {
  kind: string;
  group: string;
  /** aud of the job token to mint (`circleci run oidc get --claims`). */
  audience: string;
  /** Registry hosts this group serves (docker's config keys). */
  hosts: string[];
};

/** A recipe as the engine reads it back: the base checked, the cloud's fields not yet. */
export type StoredRecipe = RecipeBase & { readonly [field: string]: unknown };

/** A recipe as a login builds it, before the engine derives its group. */
export type UngroupedRecipe = Omit<RecipeBase, 'group'> & { readonly [field: string]: unknown };

/** What one refresh of a group yields: docker answers per host, and AWS keys when the cloud has them. */
export interface MintedGroup {
  registries: RegistryCredentials[];
  awsCredentials?: ProfileCredentials;
  /** Values to keep out of every line the helper prints. */
  secrets: string[];
}

export interface RefreshDeps {
  env: Env;
  run: RunProcess;
  retry: RetryDeps;
}

/**
 * How a mint reports to whoever runs it: a login passes its reporter (each retry announced, each
 * secret redacted the moment it exists); the helper passes none, a shorter policy, and keeps the
 * secrets of what comes back.
 */
export interface MintDeps {
  retry: RetryDeps;
  policy?: RetryPolicy;
  reporter?: Reporter;
}

/** What a login hands its provider: the job's token as obtained, and its claims (for a diagnosis). */
export interface LoginToken {
  first: OidcToken;
  claims: TokenClaims;
}

export interface LoginDeps {
  env: Env;
  reporter: Reporter;
  retry: RetryDeps;
}

/** A refusal explained: the lines naming what must allow the token's claims, and the one closing error. */
export interface Diagnosed {
  lines: string[];
  error: Error;
}

/** What a login throws for a failed mint: a diagnosed refusal's lines printed and its closing error, else the error itself. */
export function explained(error: unknown, diagnosed: Diagnosed | undefined, reporter: Reporter): unknown {
  if (!diagnosed) return error;
  for (const line of diagnosed.lines) reporter.line(`regauth: ${line}`);
  return diagnosed.error;
}

/**
 * The shape every cloud fills. `Target` is what the mint needs (the same fields whether they come
 * from the login's inputs or from a recipe read back by the helper); `Minted` is what it yields.
 */
export interface Provider<Inputs, Target, Minted, Recipe extends UngroupedRecipe> {
  /** The recipe kind, and the prefix of every group this cloud serves. */
  readonly kind: string;
  parse(env: Env): Inputs;
  target(inputs: Inputs): Target;
  /** The one mint: a job token in, the cloud's credentials out. */
  mint(target: Target, jobToken: string, deps: MintDeps): Promise<Minted>;
  /** The mint as a login runs it: the login's lines, a refusal diagnosed, the cloud's one second chance. */
  login(inputs: Inputs, token: LoginToken, deps: LoginDeps): Promise<Minted>;
  /** What docker gets for each registry the login serves. */
  registries(inputs: Inputs, minted: Minted): RegistryCredentials[];
  /** How the helper mints this login's credentials again later in the job (no secret in it). */
  recipe(inputs: Inputs, audience: string, hosts: string[], env: Env): Recipe;
  /** The mint as the helper runs it: the recipe checked, the helper's shorter retries, only the recipe's hosts. */
  refresh(recipe: StoredRecipe, jobToken: string, deps: RefreshDeps): Promise<MintedGroup>;
  /** A refusal this cloud can explain from the token's claims; undefined for any other failure. */
  diagnose(error: unknown, claims: TokenClaims, inputs: Inputs): Diagnosed | undefined;
}
