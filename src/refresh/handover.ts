import type { ProfileCredentials, RegistryCredentials } from '../clouds/provider.ts';
import type { Env } from '../core/env.ts';
import type { Reporter } from '../core/output.ts';
import type { RunProcess } from '../core/process.ts';
import { askLocalEngineEarly, type EngineVerdicts } from '../docker/engine-auth.ts';
import { parseRegistryHost } from '../registry/host.ts';
import type { UngroupedRecipe } from './recipe.ts';
import { announceServed, dockerEnvWithHelper, planRefresh, serveThroughHelper, type Served } from './setup.ts';

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
  });
  await handover.dockerLogin(dockerEnvWithHelper(env, served), engineVerdict);
  await announceServed(reporter, env, served, handover.lastsUntil);
  return served;
}
