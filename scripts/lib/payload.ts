// The bundle a run step carries: the JavaScript compressed with brotli, written in base85 and
// split over the step's `environment:` as REGAUTH_PAYLOAD_1..N; the step's command is the short
// launcher (orb/scripts/launcher.sh) that joins, unsets and runs them. Pure: text in, text out.
import { createHash } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

/** The longest environment value the build writes (CircleCI documents 32k characters for variables). */
export const PART_LIMIT = 32_000;
/**
 * The payload's 85 digits: printable ASCII without `" # $ ' : < > \ \``. YAML writes a value of
 * these unquoted and unescaped (only a value starting with an indicator gets two quotes), CircleCI
 * sees no `<<` parameter in it, and bash and node take it as it is. orb/scripts/launcher.sh holds
 * the same string; test/tooling/lib/payload.test.ts runs the launcher's decoder against fromBase85.
 */
export const DIGITS = '!%&()*+,-./0123456789;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~';

/**
 * Base85 as Ascii85 does it, with DIGITS: 4 bytes as 5 digits (most significant first); a last
 * group of n < 4 bytes is padded with zeros and written as its first n + 1 digits. 5/4 of the
 * bytes where base64 takes 4/3: 6 % less of every step's payload.
 */
export function toBase85(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const group = bytes.subarray(i, i + 4);
    let value = 0;
    for (let k = 0; k < 4; k++) value = value * 256 + (group[k] ?? 0);
    let digits = '';
    for (let k = 0; k < 5; k++, value = Math.floor(value / 85)) digits = DIGITS.charAt(value % 85) + digits;
    text += digits.slice(0, group.length + 1);
  }
  return text;
}

/** toBase85 undone: a short last group is padded with the highest digit. Throws on any other text. */
export function fromBase85(text: string): Buffer {
  if (text.length % 5 === 1) throw new Error(`${text.length} digits are no whole number of bytes`);
  const bytes = Buffer.alloc(Math.ceil(text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let k = i; k < i + 5; k++) {
      const digit = k < text.length ? DIGITS.indexOf(text.charAt(k)) : 84;
      if (digit < 0) throw new Error(`${JSON.stringify(text.charAt(k))} at ${k} is not a base85 digit`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new Error(`the group at ${i} is over 2^32`);
    bytes.writeUInt32BE(value, (i / 5) * 4);
  }
  return bytes.subarray(0, Math.floor((text.length * 4) / 5));
}
/** `REGAUTH_PAYLOAD_<n>`, n from 1. */
export const PART_NAME = /^REGAUTH_PAYLOAD_([1-9][0-9]*)$/;
export const partName = (n: number): string => `REGAUTH_PAYLOAD_${n}`;

/**
 * brotli (quality 11) then base85: what the launcher undoes. brotli's other knobs gain nothing on
 * these bundles (a larger window, text mode and block size give the same bytes: see the note in
 * test/tooling/build/bundle-size.test.ts).
 */
export function encodePayload(code: string): string {
  const compressed = brotliCompressSync(Buffer.from(code), {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(code) },
  });
  return toBase85(compressed);
}

/** `payload` in `parts` pieces of near-equal length, in order; throws when a piece would exceed PART_LIMIT or be empty. */
export function splitPayload(payload: string, parts: number): string[] {
  const size = Math.ceil(payload.length / parts);
  if (size > PART_LIMIT) throw new Error(`needs at least ${Math.ceil(payload.length / PART_LIMIT)} parts of at most ${PART_LIMIT} characters`);
  const pieces = Array.from({ length: parts }, (_, i) => payload.slice(i * size, (i + 1) * size));
  if (pieces.some((piece) => piece.length === 0)) throw new Error(`${payload.length} characters make fewer than ${parts} parts`);
  return pieces;
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A run step as the orb holds it. */
export interface RunStep {
  readonly command?: unknown;
  readonly environment?: unknown;
  readonly [key: string]: unknown;
}

export interface DecodedStep {
  /** The JavaScript the step runs. */
  readonly code: string;
  readonly sha256: string;
  /** Bytes of the JavaScript (UTF-8). */
  readonly bytes: number;
  /**
   * The step with each payload part replaced by `<payload part n>` and every mention of the
   * bundle's sha256 in its command by `<bundle sha256>`: what remains is compared as YAML.
   */
  readonly template: RunStep;
}

/** The REGAUTH_PAYLOAD_<n> values of an environment, in order; undefined when there are none. */
export function payloadParts(environment: unknown): string[] | undefined {
  if (environment === null || typeof environment !== 'object') return undefined;
  const parts: [number, string][] = [];
  for (const [key, value] of Object.entries(environment)) {
    const n = PART_NAME.exec(key)?.[1];
    if (n !== undefined) parts.push([Number(n), String(value)]);
  }
  if (parts.length === 0) return undefined;
  parts.sort((a, b) => a[0] - b[0]);
  if (parts.some(([n], i) => n !== i + 1)) throw new Error(`the payload parts are not REGAUTH_PAYLOAD_1..${parts.length}`);
  return parts.map(([, value]) => value);
}

/** Undefined when the step carries no payload; throws when it carries one that does not decode. */
export function decodeRunStep(step: RunStep): DecodedStep | undefined {
  const parts = payloadParts(step.environment);
  if (parts === undefined) return undefined;
  let code: string;
  try {
    code = brotliDecompressSync(fromBase85(parts.join(''))).toString('utf8');
  } catch (error) {
    throw new Error(`the payload is not base85 brotli data (${(error as Error).message})`);
  }
  const digest = sha256(code);
  const environment = Object.fromEntries(
    Object.entries(step.environment as Record<string, unknown>).map(([key, value]) => {
      const n = PART_NAME.exec(key)?.[1];
      return [key, n === undefined ? value : `<payload part ${n}>`];
    }),
  );
  const command = typeof step.command === 'string' ? step.command.replaceAll(digest, '<bundle sha256>') : step.command;
  return { code, sha256: digest, bytes: Buffer.byteLength(code), template: { ...step, command, environment } };
}
