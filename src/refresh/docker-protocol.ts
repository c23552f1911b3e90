/**
 * docker's credential-helper protocol as docker-credential-regauth speaks it: what docker sends
 * (`get`/`erase` a server URL on stdin, `store` a JSON object, `list`) and what it expects back.
 * Pure: where the answers come from is the refresh engine's business (src/refresh/helper.ts).
 */

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
