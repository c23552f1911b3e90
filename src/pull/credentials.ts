import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Redactor } from '../core/output.ts';
import type { RunProcess } from '../core/process.ts';
import { dockerConfigDir } from '../docker/config.ts';
import { configKeysFor, savedLogin, type RegistryCredentials } from './registry-http.ts';

/**
 * Every credential docker will send while pulling, registered with the redactor before any pull
 * runs, so a registry that quotes what it was sent (the Basic header, the password, either one
 * JSON- or Go-quoted) has it printed as ***. docker reads them from config.json's `auths`, or
 * asks the credential helper config.json names for the host (credHelpers, else credsStore):
 * regauth asks that helper too, for the hosts it pulls from, as docker is about to.
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

/** The helper docker asks for `domain`'s credentials, and the key it asks under; none: auths only. Pure. */
export function helperFor(config: unknown, domain: string): { helper: string; key: string } | undefined {
  const root = isRecord(config) ? config : {};
  const helpers = isRecord(root.credHelpers) ? root.credHelpers : {};
  const keys = configKeysFor(domain);
  for (const key of keys) {
    const named = helpers[key];
    if (typeof named !== 'string') continue;
    // An empty name (regauth's opt-out) means: no helper, use auths.
    return named !== '' && HELPER_NAME.test(named) ? { helper: named, key } : undefined;
  }
  const store = root.credsStore;
  return typeof store === 'string' && HELPER_NAME.test(store) ? { helper: store, key: keys[0] ?? domain } : undefined;
}

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A helper that does not answer in this time is left alone (docker will meet it anyway). */
export const HELPER_TIMEOUT_MS = 5000;

export interface HelperDeps {
  run: RunProcess;
  env: NodeJS.ProcessEnv;
  /** The registry hosts (host[:port] as in image references) the step pulls from. */
  domains: readonly string[];
}

export interface RegisteredCredentials {
  /** Secrets registered with the redactor. */
  count: number;
  /**
   * Per registry host asked about: the username and password docker will send there (from the
   * helper it asks, else `auths`); absent when docker sends none or an identity token.
   */
  byDomain: Map<string, RegistryCredentials>;
}

/**
 * Registers every form of every credential docker will send: saved ones, and what the helpers
 * answer for the hosts pulled from. Returns them per host too, so regauth's own registry reads
 * (the pull plan) use what docker uses without asking a helper twice. Never throws: what cannot
 * be read, docker cannot send either.
 */
export async function registerDockerCredentials(env: Readonly<Record<string, string | undefined>>, redactor: Redactor, helpers?: HelperDeps): Promise<RegisteredCredentials> {
  const byDomain = new Map<string, RegistryCredentials>();
  const text = await readRegularFile(join(dockerConfigDir(env), 'config.json'));
  if (text === undefined) return { count: 0, byDomain };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { count: 0, byDomain };
  }
  const secrets = savedSecrets(parsed);
  if (helpers !== undefined) {
    const asks = new Map<string, { helper: string; key: string; domains: string[] }>();
    for (const domain of helpers.domains) {
      const found = helperFor(parsed, domain);
      if (found === undefined) {
        const saved = savedLogin(parsed, configKeysFor(domain)).credentials;
        if (saved !== undefined) byDomain.set(domain, saved);
        continue;
      }
      const id = `${found.helper} ${found.key}`;
      const ask = asks.get(id) ?? { ...found, domains: [] };
      ask.domains.push(domain);
      asks.set(id, ask);
    }
    const asked = [...asks.values()];
    const answers = await Promise.all(asked.map((ask) => askHelper(ask, helpers)));
    answers.forEach((answer, index) => {
      if (answer === undefined) return;
      secrets.push(answer);
      // `<token>` marks an identity token, which docker trades in an OAuth exchange, not Basic.
      if (answer.username === undefined || answer.username === '<token>') return;
      for (const domain of asked[index]?.domains ?? []) byDomain.set(domain, { username: answer.username, password: answer.secret });
    });
  }
  for (const saved of secrets) for (const form of secretForms(saved)) redactor.add(form);
  return { count: secrets.length, byDomain };
}

/** `docker-credential-<helper> get`, the server on stdin, within the deadline. */
async function askHelper(ask: { helper: string; key: string }, deps: HelperDeps): Promise<SavedSecret | undefined> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), HELPER_TIMEOUT_MS);
  try {
    const result = await deps.run({ command: `docker-credential-${ask.helper}`, args: ['get'], stdin: ask.key, env: deps.env, signal: controller.signal });
    if (result.exitCode !== 0) return undefined;
    const answer: unknown = JSON.parse(result.stdout);
    if (!isRecord(answer) || typeof answer.Secret !== 'string' || answer.Secret === '') return undefined;
    return { username: typeof answer.Username === 'string' && answer.Username !== '' ? answer.Username : undefined, secret: answer.Secret };
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
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
