import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { fault } from './responses.ts';
import type { Principal } from './state.ts';

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const MAX_SKEW_MS = 15 * 60 * 1000;

export interface SignedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface VerifyOptions {
  service: string;
  /** Regions this endpoint answers for. */
  regionAllowed: (region: string) => boolean;
  lookup: (accessKeyId: string) => Principal | undefined;
  now: number;
}

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Checks a SigV4 request the way AWS does: scope, key, session token, expiry, clock skew and
 * finally the signature, recomputed from the request and the principal's secret.
 */
export async function verifySigV4(request: SignedRequest, options: VerifyOptions): Promise<{ principal: Principal; region: string }> {
  const authorization = header(request.headers, 'authorization');
  if (authorization === undefined) throw fault('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const auth = AUTH.exec(authorization.trim());
  if (!auth) throw fault('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature, in AWS4-HMAC-SHA256 form.');
  const [, accessKeyId = '', scopeDate = '', region = '', service = '', signedHeaderList = '', signature = ''] = auth;
  if (service !== options.service) throw fault('InvalidSignatureException', `Credential should be scoped to correct service: '${options.service}'.`);
  if (!options.regionAllowed(region)) throw fault('InvalidSignatureException', 'Credential should be scoped to a valid region.');

  const principal = options.lookup(accessKeyId);
  if (!principal) throw fault('UnrecognizedClientException', 'The security token included in the request is invalid.');
  const presentedToken = header(request.headers, 'x-amz-security-token');
  if (principal.sessionToken !== presentedToken) throw fault('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (principal.expiresAt !== undefined && principal.expiresAt <= options.now) throw fault('ExpiredTokenException', 'The security token included in the request is expired', 403);

  const amzDate = header(request.headers, 'x-amz-date') ?? '';
  const date = AMZ_DATE.exec(amzDate);
  if (!date) throw fault('IncompleteSignatureException', 'X-Amz-Date header is missing or malformed.');
  const signingDate = new Date(Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(date[4]), Number(date[5]), Number(date[6])));
  if (amzDate.slice(0, 8) !== scopeDate) throw fault('InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from X-Amz-Date.');
  if (Math.abs(signingDate.getTime() - options.now) > MAX_SKEW_MS) throw fault('InvalidSignatureException', `Signature expired: ${amzDate} is more than 15 minutes away from the server's time.`);

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) throw fault('InvalidSignatureException', "'Host' must be a signed header.");
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = header(request.headers, name) ?? '';
  const url = new URL(request.url, 'http://local');
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = value;
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: principal.secretAccessKey, ...(principal.sessionToken ? { sessionToken: principal.sessionToken } : {}) },
    region,
    service,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: headers.host ?? '', path: url.pathname, query, headers, body: request.body },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    throw fault('InvalidSignatureException', 'The request signature does not match the signature computed from your secret access key and the request. Check the secret access key and the signing method.');
  }
  return { principal, region };
}
