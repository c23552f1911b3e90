import { InputError } from '../core/errors.ts';
import { ACR_TOKEN_USERNAME, isGoogleRegistry, parseRegistryHost, type RegistryTarget } from '../registry/host.ts';
import { type Env, secretFromEnvName, stringParameter } from './common.ts';

export interface LoginInputs {
  target: RegistryTarget;
  username: string;
  password: string;
  /** Non-secret facts about presets that were applied, printed for the user. */
  notes: string[];
}

/** Every regauth/login parameter, checked once; messages name the parameter. */
export function parseLoginInputs(env: Env): LoginInputs {
  const registryValue = stringParameter(env, 'registry', { maxLength: 261 }) || 'docker.io';
  const target = parseRegistryHost(registryValue);
  if ('error' in target) throw new InputError('registry', target.error);
  const password = secretFromEnvName(env, 'password', { required: true });
  const usernameVar = secretFromEnvName(env, 'username', { required: false });
  const notes: string[] = [];
  let username = usernameVar.value;
  if (username === undefined) {
    const preset = presetUsername(target, password.value ?? '');
    if (preset === undefined) {
      throw new InputError('username', `environment variable ${usernameVar.name} is not set or empty; add it to the project's settings or a context`);
    }
    username = preset.username;
    notes.push(`${usernameVar.name} is not set: ${preset.why}`);
  }
  if (/[\s:]/u.test(username) || username.length > 512) {
    throw new InputError('username', `the value of ${usernameVar.name} is not a valid user name (it has white space or ':' or is too long)`);
  }
  notes.push(...describeKey(target, username, password.value ?? ''));
  return { target, username, password: password.value ?? '', notes };
}

function presetUsername(target: RegistryTarget, password: string): { username: string; why: string } | undefined {
  if (target.kind === 'acr') return { username: ACR_TOKEN_USERNAME, why: `using ACR's fixed user name ${ACR_TOKEN_USERNAME} for a refresh token` };
  if (isGoogleRegistry(target)) {
    if (parseServiceAccountKey(password)) return { username: '_json_key', why: 'the password is a service-account key, so the user name is _json_key' };
    return { username: 'oauth2accesstoken', why: 'the password is taken as an access token, so the user name is oauth2accesstoken' };
  }
  return undefined;
}

/** Facts a user can check without seeing the secret: which service account a gcr key is for. */
function describeKey(target: RegistryTarget, username: string, password: string): string[] {
  if (username === '_json_key' || username === '_json_key_base64') {
    const key = parseServiceAccountKey(username === '_json_key_base64' ? Buffer.from(password, 'base64').toString('utf8') : password);
    if (!key) throw new InputError('password', `user name ${username} needs a service-account key in JSON${username === '_json_key_base64' ? ' (base64-encoded)' : ''}, and the password is not one`);
    return [`service-account key for ${key.clientEmail}`];
  }
  if (target.kind === 'dockerhub' && password.startsWith('dckr_pat_')) return ['Docker Hub personal access token'];
  return [];
}

function parseServiceAccountKey(text: string): { clientEmail: string } | undefined {
  try {
    const parsed = JSON.parse(text) as { type?: unknown; client_email?: unknown };
    if (typeof parsed.client_email === 'string' && /^[\w.+-]+@[\w.-]+$/.test(parsed.client_email)) return { clientEmail: parsed.client_email };
  } catch {
    // not JSON: not a key
  }
  return undefined;
}
