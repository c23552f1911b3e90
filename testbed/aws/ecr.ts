import { fault } from './responses.ts';
import type { Principal } from './state.ts';

export interface EcrContext {
  now: () => number;
  /** The password inside every authorizationToken (base64 of `AWS:<password>`). */
  password: string;
  /** proxyEndpoint per account; default https://<acct>.dkr.ecr.<region>.amazonaws.com */
  proxyEndpoints: Readonly<Record<string, string>>;
  tokenTtlSeconds: number;
}

const ACCOUNT = /^\d{12}$/;

function parseJsonBody(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(body);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // falls through to the SerializationException below
  }
  throw fault('SerializationException', 'The request body is not a JSON object.');
}

/** ECR GetAuthorizationToken for an authenticated principal. */
export function getAuthorizationToken(ctx: EcrContext, principal: Principal, region: string, body: string): unknown {
  const input = parseJsonBody(body);
  const requested = input.registryIds;
  let accounts: string[];
  if (requested === undefined || requested === null) accounts = [principal.account];
  else if (!Array.isArray(requested) || requested.length < 1 || requested.length > 10 || !requested.every((id) => typeof id === 'string' && ACCOUNT.test(id))) {
    throw fault('InvalidParameterException', "Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]'");
  } else accounts = requested as string[];
  for (const account of accounts) {
    if (!principal.accounts.includes(account)) {
      throw fault('AccessDeniedException', `User: ${principal.arn} is not authorized to perform: ecr:GetAuthorizationToken on resource: arn:aws:ecr:${region}:${account}:repository/* because no identity-based policy allows the ecr:GetAuthorizationToken action`);
    }
  }
  const expiresAt = Math.floor(ctx.now() / 1000) + ctx.tokenTtlSeconds;
  const authorizationToken = Buffer.from(`AWS:${ctx.password}`).toString('base64');
  return {
    authorizationData: accounts.map((account) => ({
      authorizationToken,
      expiresAt,
      proxyEndpoint: ctx.proxyEndpoints[account] ?? `https://${account}.dkr.ecr.${region}.amazonaws.com`,
    })),
  };
}

/** ECR Public GetAuthorizationToken: one token, no endpoint (the registry is public.ecr.aws). */
export function getPublicAuthorizationToken(ctx: { now: () => number; password: string; tokenTtlSeconds: number }, body: string): unknown {
  parseJsonBody(body);
  return {
    authorizationData: {
      authorizationToken: Buffer.from(`AWS:${ctx.password}`).toString('base64'),
      expiresAt: Math.floor(ctx.now() / 1000) + ctx.tokenTtlSeconds,
    },
  };
}
