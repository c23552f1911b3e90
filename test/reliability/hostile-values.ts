/**
 * Hostile parameter values (pure): each tries to create `target` by shell injection, to smuggle
 * an option onto a command line, or to slip past checks with look-alike characters, size or
 * emptiness. `mustReject` says whether any correct parser has to refuse the value.
 */
import fc from 'fast-check';

/**
 * injection: shell syntax that runs `touch`; expansion: only `${VAR}` syntax, which regauth expands
 * itself (the remainder is inert text); whitespace: a Unicode space inside a value (a list may split
 * on it); the rest as named.
 */
export type HostileKind = 'injection' | 'expansion' | 'option' | 'lookalike' | 'whitespace' | 'huge' | 'empty' | 'reference';

export interface HostileValue {
  kind: HostileKind;
  value: string;
  /** Variables the value refers to (for `${NAME}` expansion attacks). */
  env: Record<string, string>;
}

/** Payloads that create `target` if a shell ever evaluates them. */
export function injectionPayloads(target: string): string[] {
  const t = target;
  return [
    `$(touch ${t})`,
    `\`touch ${t}\``,
    `;touch ${t}`,
    `|touch ${t}`,
    `&&touch ${t}`,
    `||touch ${t}`,
    `&touch ${t}&`,
    `\ntouch ${t}`,
    `\r\ntouch ${t}`,
    `'$(touch ${t})'`,
    `"$(touch ${t})"`,
    `';touch ${t};'`,
    `";touch ${t};"`,
    `$(touch\${IFS}${t})`,
    `>${t}`,
    `>>${t}`,
    `<(touch ${t})`,
    `$((\`touch ${t}\`))`,
    `\\$(touch ${t})`,
    `{touch,${t}}`,
    `$'\\x3btouch ${t}'`,
    `\ttouch ${t}`,
    `$(touch ${t})#`,
  ];
}

/** Option injection: values that would become flags of docker or circleci if passed on argv. */
export function optionPayloads(target: string): string[] {
  return ['--help', `--config=${target}`, '-p hunter2', '--password=hunter2', `-o ${target}`, '--', '-'];
}

/** Look-alikes of ASCII syntax: fullwidth, Cyrillic, invisible and bidi characters. */
export function lookalikes(valid: string, target: string): string[] {
  const candidates = [
    `${valid}\uff1btouch ${target}`, // fullwidth semicolon
    `\uff04(touch ${target})`, // fullwidth dollar
    valid.replace(/a/g, '\u0430').replace(/e/g, '\u0435').replace(/o/g, '\u043e') || '\u0430', // Cyrillic a, e, o
    `${valid}\u200b`, // zero-width space
    `\u202e${valid}`, // right-to-left override
    `${valid}\u2028touch ${target}`, // line separator
    valid.replace(/\//g, '\u2215').replace(/:/g, '\ua789').replace(/\./g, '\u2024') || '\u2024', // division slash, modifier colon, one-dot leader
    `${valid}\u0301`, // combining accent
    valid.replace(/[0-9]/g, (digit) => String.fromCodePoint(0xff10 + Number(digit))), // fullwidth digits
    `\u0430${valid.slice(1)}`, // first character swapped for a Cyrillic a
  ];
  return [...new Set(candidates)].filter((value) => value !== valid);
}

/** Every kind, for one parameter whose valid form is `valid`. */
export function hostileValues(valid: string, target: string): fc.Arbitrary<HostileValue> {
  const plain = (kind: HostileKind, values: string[]): fc.Arbitrary<HostileValue> => fc.constantFrom(...values).map((value) => ({ kind, value, env: {} }));
  const injection = fc
    .record({ prefix: fc.constantFrom('', valid), payload: fc.constantFrom(...injectionPayloads(target)), suffix: fc.constantFrom('', valid, ' ', ',') })
    .map(({ prefix, payload, suffix }): HostileValue => ({ kind: 'injection', value: `${prefix}${payload}${suffix}`, env: {} }));
  const huge = fc
    .constantFrom(100_000, 65_537, 4_097)
    .chain((size) => fc.constantFrom(`${valid}${'a'.repeat(size)}`, `${'a'.repeat(size)}$(touch ${target})`, `${valid},`.repeat(Math.ceil(size / (valid.length + 1)))))
    .map((value): HostileValue => ({ kind: 'huge', value: value.slice(0, 100_000), env: {} }));
  const reference = fc
    .constantFrom<[string, Record<string, string>]>(
      ['${EVIL}', { EVIL: `$(touch ${target})` }],
      ['$EVIL', { EVIL: `;touch ${target}` }],
      ['${EVIL2}', { EVIL2: '${EVIL}', EVIL: `$(touch ${target})` }],
      [`${valid}\${EVIL}`, { EVIL: `\ntouch ${target}` }],
    )
    .map(([value, env]): HostileValue => ({ kind: 'reference', value, env }));
  const half = Math.ceil(valid.length / 2);
  const whitespace = fc
    .constantFrom('\u00a0', '\u2003', '\u3000', '\u2028')
    .map((space): HostileValue => ({ kind: 'whitespace', value: `${valid.slice(0, half)}${space}${valid.slice(half)}`, env: {} }));
  const expansion = fc
    .constantFrom(`\${IFS}touch\${IFS}${target}`, `${valid}\${IFS}touch\${IFS}${target}`, `\${NOPE}${valid}`)
    .map((value): HostileValue => ({ kind: 'expansion', value, env: {} }));
  return fc.oneof(
    { arbitrary: injection, weight: 5 },
    { arbitrary: expansion, weight: 1 },
    { arbitrary: whitespace, weight: 1 },
    { arbitrary: plain('option', optionPayloads(target)), weight: 1 },
    { arbitrary: plain('lookalike', lookalikes(valid, target)), weight: 2 },
    { arbitrary: huge, weight: 1 },
    { arbitrary: plain('empty', ['', ' ', '\n', '\t']), weight: 1 },
    { arbitrary: reference, weight: 1 },
  );
}

/** Hostile text for non-string parameters (integer, boolean, env_var_name): CircleCI's types refuse it. */
export function hostileScalars(target: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...injectionPayloads(target), ...optionPayloads(target)),
    fc.constantFrom('1;touch x', 'true && touch x', 'A$(id)', 'NAME\u0430', 'NAME\n', ' NAME', '', '1e3', '0x10', '-1', '1.5'),
    fc.string({ minLength: 1, maxLength: 40 }).filter((text) => /[^A-Za-z0-9_]/.test(text)),
  );
}
