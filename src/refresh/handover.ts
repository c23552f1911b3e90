import type { ProfileCredentials, RegistryCredentials } from '../clouds/provider.ts';
import type { Env } from '../core/env.ts';
import type { Reporter } from '../core/output.ts';
import type { RunProcess } from '../core/process.ts';
import { askLocalEngineEarly, type EngineVerdicts } from '../docker/engine-auth.ts';
import { parseRegistryHost } from '../registry/host.ts';
import type { UngroupedRecipe } from './recipe.ts';
import { abandonHelperDir, announceServed, dockerEnvWithHelper, planRefresh, prepareHelperDir, serveThroughHelper, type PreparedDir, type Served } from './setup.ts';

/** What a login hands the refresh engine once its provider has minted. */
export interface LoginHandover {
  env: Env;
  run: RunProcess;
  reporter: Reporter;
  /** The login's `refresh` parameter, and the aud a refresh mints its job token with. */
  refresh: boolean;
  audience: string;
  /** The provider's recipe, without its group id (derived here). */
  recipe: UngroupedRecipe;
  registries: RegistryCredentials[];
  /** AWS only: the keys an exported profile gets from the helper. */
  awsCredentials?: ProfileCredentials;
  issuedAtMs: number;
  /** When the credentials expire: said when no renewal will come (no job agent). */
  lastsUntil: Date;
  /**
   * docker login to each registry, in docker's environment that finds the helper just installed:
   * the registry judges the password now, so a refusal fails this step rather than a later pull.
   */
  dockerLogin: (dockerEnv: Env, engineVerdict: EngineVerdicts) => Promise<unknown>;
  /** The helper directory, begun while the login minted (startServing). */
  preparing?: Preparing;
}

/** The credential-free half of serving, under way while a login's cloud answers. */
export interface Preparing {
  ready: Promise<PreparedDir>;
  /** For a login that fails before it serves: what the preparation made goes again. */
  abandon: () => Promise<void>;
}

/**
 * Starts making the helper's directory as soon as a login knows it will refresh (before its cloud
 * mints), so that work overlaps the cloud's round trips; undefined when it will not refresh
 * (serve then says why). A login that fails before `serve` calls `abandon`.
 */
export function startServing(env: Env, refresh: boolean, audience: string, kind: string): Preparing | undefined {
  const plan = planRefresh(refresh, audience);
  if (!('bundle' in plan)) return undefined;
  const ready = prepareHelperDir(env, kind, plan.bundle);
  // Awaited by serve or by abandon; a failure surfaces there, never as an unhandled rejection.
  ready.catch(() => undefined);
  return {
    ready,
    abandon: async () => {
      const prepared = await ready.catch(() => undefined);
      if (prepared) await abandonHelperDir(env, prepared).catch(() => undefined);
    },
  };
}

/** Runs a login's mint while `preparing` makes the helper's directory; a mint that fails abandons it. */
export async function mintAlongside<T>(preparing: Preparing | undefined, mint: () => Promise<T>): Promise<T> {
  try {
    return await mint();
  } catch (error) {
    await preparing?.abandon();
    throw error;
  }
}

/**
 * A login's refresh half in one call: whether it can refresh (else the line saying why not, and
 * undefined: the login goes on with fixed passwords), the helper set up with the registries, docker
 * logged in through it, and the lines every refreshing login prints.
 */
export async function serveLogin(handover: LoginHandover): Promise<Served | undefined> {
  const { env, reporter } = handover;
  const plan = planRefresh(handover.refresh, handover.audience);
  if (!('bundle' in plan)) {
    if (plan.fallback) reporter.line(`regauth: ${plan.fallback}`);
    return undefined;
  }
  // A local engine judges the passwords while the helper is being installed (docker login's route otherwise).
  const engineVerdict = askLocalEngineEarly(env, handover.registries.flatMap((registry) => {
    const target = parseRegistryHost(registry.host);
    return 'error' in target ? [] : [{ target, username: registry.username, password: registry.secret }];
  }));
  const served = await serveThroughHelper({
    env,
    run: handover.run,
    recipe: handover.recipe,
    registries: handover.registries,
    ...(handover.awsCredentials ? { awsCredentials: handover.awsCredentials } : {}),
    bundleSource: plan.bundle,
    issuedAtMs: handover.issuedAtMs,
    ...(handover.preparing ? { prepared: handover.preparing.ready } : {}),
  });
  await handover.dockerLogin(dockerEnvWithHelper(env, served), engineVerdict);
  await announceServed(reporter, env, served, handover.lastsUntil);
  return served;
}
