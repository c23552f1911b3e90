import { InputError } from '../core/errors.ts';
import { parseRegistryHost, type RegistryTarget } from '../registry/host.ts';
import { type Env, listParameter } from './common.ts';

/** regauth/logout: `registries` empty means every registry regauth logged in to in this job. */
export function parseLogoutInputs(env: Env): { targets: RegistryTarget[] | undefined } {
  const hosts = listParameter(env, 'registries', { maxLength: 8192 });
  if (hosts.length === 0) return { targets: undefined };
  const targets = hosts.map((host) => {
    const parsed = parseRegistryHost(host);
    if ('error' in parsed) throw new InputError('registries', `${JSON.stringify(host)} ${parsed.error}`);
    return parsed;
  });
  return { targets };
}
