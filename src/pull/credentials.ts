import { constants, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Redactor } from '../core/output.ts';

/**
 * Every credential docker will send while pulling, registered with the redactor before any pull
 * runs, so a registry that quotes what it was sent (the Basic header, the password, either one
 * JSON- or Go-quoted) has it printed as ***. docker reads them from config.json's `auths`;
 * helpers (credsStore / credHelpers) are not run: that would start a program to guard output.
 */
export interface SavedSecret {
  username: string | undefined;
  secret: string;
}

/** Every readable secret in a parsed config.json's `auths`: `auth`, `identitytoken`, `registrytoken`. Pure. */
export function savedSecrets(config: unknown): SavedSecret[] {
  const auths = isRecord(config) && isRecord(config.auths) ? config.auths : {};
  const found: SavedSecret[] = [];
  for (const entry of Object.values(auths)) {
    if (!isRecord(entry)) continue;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // The stored field itself is base64(user:password): what a Basic header carries.
      found.push({ username: undefined, secret: entry.auth });
      if (colon > 0) found.push({ username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) });
    }
    if (typeof entry.password === 'string' && entry.password !== '') {
      found.push({ username: typeof entry.username === 'string' ? entry.username : undefined, secret: entry.password });
    }
    for (const key of ['identitytoken', 'registrytoken'] as const) {
      const token = entry[key];
      if (typeof token === 'string' && token !== '') found.push({ username: undefined, secret: token });
    }
  }
  return found;
}

/** How Go's %q prints a string (strconv.Quote), without the quotes. Pure. */
export function goQuoted(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (char === '\u0007') out += '\\a';
    else if (char === '\b') out += '\\b';
    else if (char === '\f') out += '\\f';
    else if (char === '\v') out += '\\v';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if ((code >= 0x80 && code < 0xa0) || code === 0xad) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += char;
  }
  return out;
}

/** Every form of one secret a registry or docker could print. Pure. */
export function secretForms(saved: SavedSecret): string[] {
  const forms = new Set<string>();
  const add = (value: string): void => {
    forms.add(value);
    forms.add(JSON.stringify(value).slice(1, -1));
    forms.add(goQuoted(value));
  };
  add(saved.secret);
  // docker strips a trailing newline from what it is given; the echo then lacks it.
  const trimmed = saved.secret.replace(/[\r\n]+$/, '');
  if (trimmed !== saved.secret) add(trimmed);
  if (saved.username !== undefined) {
    const pair = `${saved.username}:${trimmed}`;
    add(pair);
    forms.add(Buffer.from(pair).toString('base64'));
  }
  return [...forms];
}

/** Registers every form of every saved credential. Never throws: a config it cannot read holds nothing docker could send either. */
export async function registerDockerCredentials(env: Readonly<Record<string, string | undefined>>, redactor: Redactor): Promise<number> {
  const dir = env.DOCKER_CONFIG?.trim() || join(env.HOME || homedir(), '.docker');
  const text = await readRegularFile(join(dir, 'config.json'));
  if (text === undefined) return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 0;
  }
  const secrets = savedSecrets(parsed);
  for (const saved of secrets) for (const form of secretForms(saved)) redactor.add(form);
  return secrets.length;
}

/** Opens without blocking (a FIFO would hang a plain read); a link is followed, as docker follows it. */
async function readRegularFile(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size > 16 * 1024 * 1024) return undefined;
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
