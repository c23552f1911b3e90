import { DockerCommandError } from './error.ts';
import type { DockerDeps } from './login.ts';
import type { RegistryTarget } from '../registry/host.ts';

/** `docker logout` of one key in `configDir` (an undo the journal asks for). */
export async function dockerLogoutKey(deps: DockerDeps, configDir: string, target: RegistryTarget): Promise<void> {
  const args = target.serverArgument === undefined ? ['logout'] : ['logout', target.serverArgument];
  const result = await deps.run({ command: 'docker', args, env: { ...deps.env, DOCKER_CONFIG: configDir } });
  if (result.exitCode !== 0) throw new DockerCommandError(args, result.exitCode, `${result.stderr}\n${result.stdout}`);
}
