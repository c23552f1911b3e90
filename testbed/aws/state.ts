import { randomBytes } from 'node:crypto';

/** Credentials the local stack accepts on SigV4-signed calls. */
export interface Principal {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present for STS-issued credentials; must come back as X-Amz-Security-Token. */
  sessionToken?: string;
  /** Epoch ms; absent for static keys. */
  expiresAt?: number;
  account: string;
  /** The caller's ARN, as AWS names it in AccessDenied messages. */
  arn: string;
  /** Registries (accounts) this principal may get an ECR token for. */
  accounts: readonly string[];
}

export interface RoleConfig {
  /** Values the trust policy's `<provider>:aud` condition allows; defaults to the org id. */
  aud?: string | readonly string[];
  /** StringLike pattern (`*`, `?`) for `<provider>:sub`; defaults to `*`. */
  subPattern?: string;
  /** Seconds, 3600–43200 on AWS; defaults to 3600. */
  maxSessionDuration?: number;
  /** Accounts whose registries the role may reach; defaults to the role's own account. */
  accounts?: readonly string[];
  /** The provider (issuer URL without scheme) the trust policy names; defaults to the local issuer. */
  provider?: string;
  /** Role ARNs whose sessions may sts:AssumeRole into this role (a chained profile's role_arn). */
  assumableBy?: readonly string[];
}

export interface StaticKeyConfig {
  accessKeyId: string;
  secretAccessKey: string;
  account: string;
  accounts?: readonly string[];
  userName?: string;
}

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function randomId(prefix: string, length: number): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const byte of bytes) out += UPPER_ALNUM[byte % UPPER_ALNUM.length];
  return out.slice(0, prefix.length + length);
}

export function newSessionSecrets(): { accessKeyId: string; secretAccessKey: string; sessionToken: string } {
  return {
    accessKeyId: randomId('ASIA', 16),
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(300).toString('base64')}`,
  };
}

/** IAM StringLike: `*` any run of characters, `?` exactly one. */
export function stringLike(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(value);
}
