/**
 * docker's credential-helper protocol as docker-credential-regauth speaks it: what docker sends
 * (`get`/`erase` a server URL on stdin, `store` a JSON object, `list`) and what it expects back.
 * Pure: where the answers come from is the refresh engine's business (src/refresh/helper.ts).
 */

import { isValidHost } from './recipe.ts';

/** The answer that means "no credentials for this server" (the bash helper gives it too). */
export const NOT_FOUND = 'credentials not found in native keychain';

/** The server URL docker passes, as the host key regauth files its entries under. */
export function hostFromServerUrl(server: string): string {
  return server.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

/** docker's credential-helper answer to `get`. */
export function dockerAnswer(host: string, username: string, secret: string): string {
  return JSON.stringify({ ServerURL: host, Username: username, Secret: secret });
}

/** `store`: docker hands over {"ServerURL","Username","Secret"}; undefined when it is not that. */
export function parseStoreRequest(input: string): { host: string; username: string; secret: string } | undefined {
  let parsed: { ServerURL?: unknown; Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(input) as typeof parsed;
  } catch {
    return undefined;
  }
  const host = hostFromServerUrl(String(parsed?.ServerURL ?? ''));
  if (!isValidHost(host) || typeof parsed.Username !== 'string' || typeof parsed.Secret !== 'string') return undefined;
  return { host, username: parsed.Username, secret: parsed.Secret };
}

export const STORE_USAGE = 'regauth: store expects {"ServerURL","Username","Secret"} on stdin';

/** `list`: host → user name, from the `get` answers regauth holds (a damaged one is left out). */
export function listAnswer(answers: ReadonlyMap<string, string>): string {
  const out: Record<string, string> = {};
  for (const [host, answer] of answers) {
    if (!isValidHost(host)) continue;
    try {
      out[host] = String((JSON.parse(answer) as { Username?: unknown }).Username ?? '');
    } catch {
      // a damaged entry is not listed
    }
  }
  return JSON.stringify(out);
}
