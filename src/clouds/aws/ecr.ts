import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand } from '@aws-sdk/client-ecr-public';
import { callAws, type AwsRetryOptions } from './call.ts';
import { AwsCallError } from './errors.ts';
import { sdkClientConfig } from './sdk.ts';
import type { AwsCredentials } from './sts.ts';

/** What docker needs to log in to one registry. */
export interface RegistryLogin {
  /** host[:port], taken from ECR's proxyEndpoint. */
  registry: string;
  username: string;
  password: string;
  expiresAt: Date | undefined;
}

export interface EcrAuthorizationInput {
  region: string;
  credentials: AwsCredentials;
  /** Accounts whose registries to log in to; empty or absent = the caller's account. */
  registryIds?: readonly string[];
  retry?: AwsRetryOptions;
}

export const ECR_PUBLIC_REGISTRY = 'public.ecr.aws';

/** base64(`user:password`) → its parts, split on the first ':' (passwords may hold ':'). */
export function decodeAuthorizationToken(token: string): { username: string; password: string } {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new Error('the authorization token is not base64 of user:password');
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** https://123456789012.dkr.ecr.us-east-1.amazonaws.com → 123456789012.dkr.ecr.us-east-1.amazonaws.com */
export function registryHostFromProxyEndpoint(endpoint: string): string {
  const url = new URL(endpoint.includes('://') ? endpoint : `https://${endpoint}`);
  return url.host;
}

function sdkCredentials(credentials: AwsCredentials): AwsCredentials {
  return { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}) };
}

function incomplete(operation: 'ecr:GetAuthorizationToken' | 'ecr-public:GetAuthorizationToken', what: string): AwsCallError {
  return new AwsCallError(operation, { kind: 'permanent', code: 'IncompleteResponse', message: what }, 1);
}

export async function getEcrAuthorization(input: EcrAuthorizationInput): Promise<RegistryLogin[]> {
  const client = new ECRClient({ ...sdkClientConfig(input.region), credentials: sdkCredentials(input.credentials) });
  const ids = input.registryIds && input.registryIds.length > 0 ? [...input.registryIds] : undefined;
  try {
    const secrets = [input.credentials.secretAccessKey, input.credentials.sessionToken ?? ''];
    const output = await callAws('ecr:GetAuthorizationToken', () => client.send(new GetAuthorizationTokenCommand(ids ? { registryIds: ids } : {})), input.retry, secrets);
    const data = output.authorizationData ?? [];
    if (data.length === 0) throw incomplete('ecr:GetAuthorizationToken', 'the response has no authorizationData');
    return data.map((entry) => {
      if (!entry.authorizationToken || !entry.proxyEndpoint) throw incomplete('ecr:GetAuthorizationToken', 'an authorizationData entry lacks authorizationToken or proxyEndpoint');
      return { registry: registryHostFromProxyEndpoint(entry.proxyEndpoint), ...decodeAuthorizationToken(entry.authorizationToken), expiresAt: entry.expiresAt };
    });
  } finally {
    client.destroy();
  }
}

/** ECR Public lives in us-east-1 only, whatever region the private registries are in. */
export async function getEcrPublicAuthorization(input: { credentials: AwsCredentials; retry?: AwsRetryOptions }): Promise<RegistryLogin> {
  const client = new ECRPUBLICClient({ ...sdkClientConfig('us-east-1'), credentials: sdkCredentials(input.credentials) });
  try {
    const secrets = [input.credentials.secretAccessKey, input.credentials.sessionToken ?? ''];
    const output = await callAws('ecr-public:GetAuthorizationToken', () => client.send(new GetPublicAuthorizationTokenCommand({})), input.retry, secrets);
    const token = output.authorizationData?.authorizationToken;
    if (!token) throw incomplete('ecr-public:GetAuthorizationToken', 'the response has no authorizationToken');
    return { registry: ECR_PUBLIC_REGISTRY, ...decodeAuthorizationToken(token), expiresAt: output.authorizationData?.expiresAt };
  } finally {
    client.destroy();
  }
}
