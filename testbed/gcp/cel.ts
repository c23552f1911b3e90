/**
 * The slice of CEL that workload identity providers use in attribute mappings and conditions,
 * enough to state realistic providers in tests:
 *   mapping value:  assertion.sub | assertion['oidc.circleci.com/project-id'] | 'literal' | a + b
 *   condition:      term && term ...   term: value == 'x' | value != 'x' | value in ['x', 'y'] | value.startsWith('x')
 * where a condition's value may also be attribute.NAME or google.subject. Anything else is refused
 * when the provider is configured, so a test cannot silently rely on an unsupported expression.
 */
export type Claims = Readonly<Record<string, unknown>>;
type Scope = { assertion: Claims; attributes?: Readonly<Record<string, string>> };

const REFERENCE = /^(assertion|attribute|google)(?:\.([A-Za-z_][\w]*)|\[\s*(?:'([^']*)'|"([^"]*)")\s*\])$/;
const LITERAL = /^'([^']*)'$|^"([^"]*)"$/;

function splitTop(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '[' || ch === '(') depth++;
    else if (ch === ']' || ch === ')') depth--;
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i).trim());
      start = i + separator.length;
      i += separator.length - 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

/** Compiles a value expression; throws on anything outside the slice above. */
export function compileValue(expression: string): (scope: Scope) => string | undefined {
  const pieces = splitTop(expression.trim(), '+');
  const parts = pieces.map((piece) => {
    const literal = LITERAL.exec(piece);
    if (literal) {
      const value = literal[1] ?? literal[2] ?? '';
      return () => value;
    }
    const ref = REFERENCE.exec(piece);
    if (!ref) throw new Error(`unsupported CEL value: ${piece}`);
    const [, root, dotted, single, double] = ref;
    const name = dotted ?? single ?? double ?? '';
    return (scope: Scope): string | undefined => {
      const raw = root === 'assertion' ? scope.assertion[name] : root === 'google' ? scope.attributes?.[`google.${name}`] : scope.attributes?.[`attribute.${name}`];
      if (raw === undefined || raw === null) return undefined;
      return typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.map(String).join(',') : String(raw);
    };
  });
  return (scope) => {
    const values = parts.map((part) => part(scope));
    return values.some((v) => v === undefined) ? undefined : values.join('');
  };
}

function parseList(text: string): string[] {
  const inner = text.trim();
  if (!inner.startsWith('[') || !inner.endsWith(']')) throw new Error(`unsupported CEL list: ${text}`);
  const body = inner.slice(1, -1).trim();
  if (body === '') return [];
  return splitTop(body, ',').map((item) => {
    const literal = LITERAL.exec(item);
    if (!literal) throw new Error(`unsupported CEL list item: ${item}`);
    return literal[1] ?? literal[2] ?? '';
  });
}

function literalOf(text: string): string {
  const literal = LITERAL.exec(text.trim());
  if (!literal) throw new Error(`unsupported CEL literal: ${text}`);
  return literal[1] ?? literal[2] ?? '';
}

/** Compiles a condition; the result is false when a referenced value is missing. */
export function compileCondition(expression: string): (scope: Scope) => boolean {
  const terms = splitTop(expression.trim(), '&&').map((term) => {
    const starts = /^(.*)\.startsWith\((.*)\)$/.exec(term);
    if (starts) {
      const value = compileValue(starts[1] ?? '');
      const prefix = literalOf(starts[2] ?? '');
      return (scope: Scope) => value(scope)?.startsWith(prefix) ?? false;
    }
    for (const op of ['==', '!=', ' in '] as const) {
      const halves = splitTop(term, op);
      if (halves.length !== 2) continue;
      const value = compileValue(halves[0] ?? '');
      if (op === ' in ') {
        const list = parseList(halves[1] ?? '');
        return (scope: Scope) => {
          const v = value(scope);
          return v !== undefined && list.includes(v);
        };
      }
      const literal = literalOf(halves[1] ?? '');
      return (scope: Scope) => {
        const v = value(scope);
        return v !== undefined && (op === '==' ? v === literal : v !== literal);
      };
    }
    throw new Error(`unsupported CEL condition term: ${term}`);
  });
  return (scope) => terms.every((term) => term(scope));
}
