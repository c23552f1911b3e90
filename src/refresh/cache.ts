import { readOwned, writeIntoExisting, layout } from './files.ts';

/**
 * One cache entry per registry host (docker's answer) and per AWS group (credential_process's
 * answer). Line 1 is the epoch second after which the entry is not served from the cache (its
 * expiry minus the refresh margin), line 2 the exact JSON the caller gets, line 3 the expiry.
 * The bash helper reads lines 1 and 2 with builtins only, so a cached answer starts no node
 * (its test writes an entry with formatEntry and has the script answer it).
 */
export interface CacheEntry {
  refreshAt: number;
  answer: string;
  expiresAt: number;
}

export function formatEntry(entry: CacheEntry): string {
  if (entry.answer.includes('\n')) throw new Error('a cache answer must be one line');
  return `${entry.refreshAt}\n${entry.answer}\n${entry.expiresAt}\n`;
}

export function parseEntry(text: string): CacheEntry | undefined {
  const [refreshAt, answer, expiresAt] = text.split('\n');
  if (!/^\d+$/.test(refreshAt ?? '') || !/^\d+$/.test(expiresAt ?? '') || !answer) return undefined;
  return { refreshAt: Number(refreshAt), answer, expiresAt: Number(expiresAt) };
}

export const hostEntryName = (host: string): string => host;
/** The bash helper looks up `aws-credentials <group>` under this prefix too. */
export const AWS_ENTRY_PREFIX = 'aws@';
export const awsEntryName = (group: string): string => `${AWS_ENTRY_PREFIX}${group}`;

export async function readEntry(dir: string, name: string): Promise<CacheEntry | undefined> {
  const text = await readOwned(layout(dir).cache(name));
  return text === undefined ? undefined : parseEntry(text);
}

/** Into the cache directory the login made; never creates it (see writeIntoExisting). */
export async function writeEntry(dir: string, name: string, entry: CacheEntry): Promise<void> {
  await writeIntoExisting(layout(dir).cache(name), formatEntry(entry));
}

export const isFresh = (entry: CacheEntry | undefined, nowMs: number): entry is CacheEntry => entry !== undefined && entry.refreshAt > nowMs / 1000;
export const isUsable = (entry: CacheEntry | undefined, nowMs: number): entry is CacheEntry => entry !== undefined && entry.expiresAt > nowMs / 1000 + 1;

/** credential_process's answer. */
export function awsProcessAnswer(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date }): string {
  return JSON.stringify({
    Version: 1,
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    SessionToken: credentials.sessionToken,
    Expiration: credentials.expiration.toISOString(),
  });
}
