import { randomUUID } from 'node:crypto';
import type http from 'node:http';

/** Which local endpoint family a request belongs to. */
export type Service = 'sts' | 'ecr' | 'ecr-public';

/** An error the local service answers with, in the service's own wire format. */
export class AwsFault extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AwsFault';
  }
}

/** Status codes AWS uses for the error codes the local stack can produce (query and JSON). */
const STATUS: Record<string, number> = {
  InvalidIdentityToken: 400,
  ExpiredTokenException: 400,
  ExpiredToken: 400,
  AccessDenied: 403,
  AccessDeniedException: 400,
  IDPRejectedClaim: 403,
  IDPCommunicationError: 400,
  ValidationError: 400,
  Throttling: 400,
  ThrottlingException: 400,
  InternalFailure: 500,
  ServerException: 500,
  ServiceUnavailable: 503,
  RegionDisabledException: 403,
  MalformedPolicyDocument: 400,
  PackedPolicyTooLarge: 400,
  InvalidAction: 400,
  InvalidParameterException: 400,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 403,
  IncompleteSignatureException: 400,
  MissingAuthenticationTokenException: 400,
  UnknownOperationException: 400,
  SerializationException: 400,
};

export function fault(code: string, message: string, status?: number): AwsFault {
  return new AwsFault(code, status ?? STATUS[code] ?? 400, message);
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

export function newRequestId(): string {
  return randomUUID();
}

export function sendXml(res: http.ServerResponse, status: number, body: string, requestId: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** AWS query protocol error document. */
export function sendQueryError(res: http.ServerResponse, error: AwsFault, requestId: string): void {
  const type = error.status >= 500 ? 'Receiver' : 'Sender';
  const body =
    `<ErrorResponse xmlns="${STS_NAMESPACE}">\n` +
    `  <Error>\n    <Type>${type}</Type>\n    <Code>${escapeXml(error.code)}</Code>\n    <Message>${escapeXml(error.message)}</Message>\n  </Error>\n` +
    `  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`;
  sendXml(res, error.status, body, requestId);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, requestId: string, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-requestid': requestId,
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

/** AWS JSON 1.1 error: `__type` in the body and the x-amzn-ErrorType header. */
export function sendJsonError(res: http.ServerResponse, error: AwsFault, requestId: string): void {
  sendJson(res, error.status, { __type: error.code, message: error.message }, requestId, { 'x-amzn-errortype': `${error.code}:http://internal.amazon.com/coral/com.amazon.coral.service/` });
}
