import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { decodeRunStep, DIGITS, encodePayload, fromBase85, sha256, toBase85 } from '../../../scripts/lib/payload.ts';

const root = resolve(import.meta.dirname, '../../..');
const launcher = readFileSync(join(root, 'orb/scripts/launcher.sh'), 'utf8');
/** The node program of orb/scripts/launcher.sh, as the step runs it: `node -e '<program>' sha256 images`. */
const program = /node -e '\n([\s\S]*?)\n' "\$regauth_sha256"/.exec(launcher)?.[1] ?? '';

describe('the payload encoding (base85)', () => {
  it('has 85 distinct digits that YAML writes unquoted and CircleCI reads as no parameter', () => {
    expect(new Set(DIGITS).size).toBe(85);
    expect(DIGITS).toMatch(/^[!-~]+$/);
    for (const character of '"#$\'\\:<>`') expect(DIGITS).not.toContain(character);
    // Mid-value every digit stays plain: the step carries the payload's own bytes, nothing more.
    const value = `A${DIGITS}${DIGITS.split('').reverse().join('')}`;
    expect(stringify({ REGAUTH_PAYLOAD_1: value }, { lineWidth: 0 })).toBe(`REGAUTH_PAYLOAD_1: ${value}\n`);
  });

  it('round-trips every length of the last group, 5 digits per 4 bytes', () => {
    for (let length = 0; length <= 41; length++) {
      const bytes = randomBytes(length);
      const text = toBase85(bytes);
      expect(text.length).toBe(length + Math.ceil(length / 4));
      expect([...text].every((c) => DIGITS.includes(c))).toBe(true);
      expect(fromBase85(text).equals(bytes)).toBe(true);
    }
    // The extremes of a group: all zeros and all ones.
    expect(fromBase85(toBase85(Buffer.alloc(8, 0xff))).equals(Buffer.alloc(8, 0xff))).toBe(true);
    expect(toBase85(Buffer.alloc(4))).toBe(DIGITS[0]?.repeat(5));
  });

  it('refuses what toBase85 never writes: a foreign character, a lone last digit, a group over 2^32', () => {
    expect(() => fromBase85('abc"e')).toThrow(/"\\"" at 3 is not a base85 digit/);
    expect(() => fromBase85('abcdef')).toThrow(/6 digits are no whole number of bytes/);
    expect(() => fromBase85('~~~~~')).toThrow(/over 2\^32/);
    expect(() => decodeRunStep({ environment: { REGAUTH_PAYLOAD_1: toBase85(Buffer.from('not brotli')) } })).toThrow(/the payload is not base85 brotli data/);
  });

  it("the launcher's decoder is the same: its digits, and it runs what encodePayload wrote for every last-group length", () => {
    expect(program).toContain('process.argv');
    expect(launcher).toContain(`d = "${DIGITS}"`);
    const remainders = new Set<number>();
    // Programs of growing length until the brotli output has had every length mod 4.
    for (let n = 0; remainders.size < 4 && n < 64; n++) {
      const code = `process.stdout.write(${JSON.stringify(`ran ${n} ${'x'.repeat(n)}`)});`;
      const compressed = brotliCompressSync(Buffer.from(code));
      if (remainders.has(compressed.length % 4)) continue;
      remainders.add(compressed.length % 4);
      const payload = encodePayload(code);
      expect(fromBase85(payload).toString('hex')).not.toBe('');
      const out = execFileSync(process.execPath, ['-e', program, sha256(code), 'the images'], { input: payload, encoding: 'utf8' });
      expect(out).toBe(`ran ${n} ${'x'.repeat(n)}`);
    }
    expect(remainders.size).toBe(4);
  });

  it('the launcher refuses a payload with a foreign character as damaged, in one line', () => {
    const code = 'process.stdout.write("ran")';
    const payload = encodePayload(code);
    const broken = `${payload.slice(0, 10)}"${payload.slice(11)}`;
    let stderr = '';
    try {
      execFileSync(process.execPath, ['-e', program, sha256(code), 'the images'], { input: broken, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (error) {
      stderr = String((error as { stderr?: string }).stderr);
    }
    expect(stderr).toBe(`regauth: the payload is damaged: its sha256 is not ${sha256(code)}\n`);
  });

  it('a step YAML round trip gives the payload back unchanged', () => {
    const payload = encodePayload('console.log(1)'.repeat(50));
    const step = parse(stringify([{ run: { environment: { REGAUTH_PAYLOAD_1: payload } } }], { lineWidth: 0 })) as { run: { environment: Record<string, string> } }[];
    expect(step[0]?.run.environment.REGAUTH_PAYLOAD_1).toBe(payload);
  });
});
