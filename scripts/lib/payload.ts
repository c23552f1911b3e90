// The bundle a run step carries: `REGAUTH_BUNDLE='<base64 of brotli of the JS>'` (see
// scripts/build.ts wrapInLauncher). Pure: text in, bundle out.
import { createHash } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

const PAYLOAD_LINE = /^REGAUTH_BUNDLE='([^']*)'$/m;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** brotli (quality 11) then base64: what the launcher's loader undoes. */
export function encodePayload(code: string): string {
  return brotliCompressSync(Buffer.from(code), {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: code.length },
  }).toString('base64');
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface DecodedStep {
  /** The JavaScript the step runs. */
  readonly code: string;
  readonly sha256: string;
  /** Bytes of the JavaScript (UTF-8). */
  readonly bytes: number;
  /**
   * The step text with the payload and every mention of the bundle's own sha256 replaced by
   * placeholders: what remains is the launcher and comments, compared as text.
   */
  readonly template: string;
}

/** Undefined when the text carries no payload; throws when it carries one that does not decode. */
export function decodeRunStep(text: string): DecodedStep | undefined {
  const match = PAYLOAD_LINE.exec(text);
  if (match?.[1] === undefined) return undefined;
  const payload = match[1];
  if (!BASE64.test(payload) || payload.length % 4 !== 0) throw new Error('the payload is not base64');
  let code: string;
  try {
    code = brotliDecompressSync(Buffer.from(payload, 'base64')).toString('utf8');
  } catch (error) {
    throw new Error(`the payload is not brotli data (${(error as Error).message})`);
  }
  const digest = sha256(code);
  const template = text.replace(PAYLOAD_LINE, "REGAUTH_BUNDLE='<payload>'").replaceAll(digest, '<bundle sha256>');
  return { code, sha256: digest, bytes: Buffer.byteLength(code), template };
}
