// Compares a published orb with the orb built from the checkout, component by component: each
// run step's bundle by the sha256 of its decoded JavaScript, everything around it by parsed
// content (a registry may re-serialize the YAML). Pure: parsed values in, verdicts out.
import { decodeRunStep } from './payload.ts';

export interface Verdict {
  /** `command login`, `executor default`, `example quay_robot`, `top-level`. */
  readonly subject: string;
  /** The command's name when the subject is a command. */
  readonly command?: string;
  /** Empty: match. */
  readonly differences: readonly string[];
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const SECTIONS = [
  ['commands', 'command'],
  ['jobs', 'job'],
  ['executors', 'executor'],
  ['examples', 'example'],
] as const;

/** One verdict per command, job, executor and example of either orb, then one for the other top-level keys. */
export function compareOrbs(built: unknown, published: unknown): Verdict[] {
  const a = isObj(built) ? built : {};
  const b = isObj(published) ? published : {};
  const verdicts: Verdict[] = [];
  for (const [key, kind] of SECTIONS) {
    const left = isObj(a[key]) ? a[key] : {};
    const right = isObj(b[key]) ? b[key] : {};
    for (const name of unionKeys(left, right)) {
      const subject = `${kind} ${name}`;
      const extra = kind === 'command' ? { command: name } : {};
      if (!(name in right)) verdicts.push({ subject, ...extra, differences: ['missing from the file'] });
      else if (!(name in left)) verdicts.push({ subject, ...extra, differences: ['not in the build of this checkout'] });
      else verdicts.push({ subject, ...extra, differences: compareComponent(left[name], right[name]) });
    }
  }
  const sectionKeys = new Set<string>(SECTIONS.map(([key]) => key));
  const rest = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([key]) => !sectionKeys.has(key)));
  verdicts.push({ subject: 'top-level', differences: diff(rest(a), rest(b), '') });
  return verdicts;
}

/** A command, job or executor: run steps' payloads by sha256, then the rest by value. */
export function compareComponent(built: unknown, published: unknown): string[] {
  const differences: string[] = [];
  const left = normalizeRunSteps(built, '', differences, 'build');
  const right = normalizeRunSteps(published, '', differences, 'file');
  const payloads = new Map<string, [string | undefined, string | undefined]>();
  for (const [at, digest] of left.payloads) payloads.set(at, [digest, undefined]);
  for (const [at, digest] of right.payloads) payloads.set(at, [payloads.get(at)?.[0], digest]);
  for (const [at, [mine, theirs]] of payloads) {
    if (mine === undefined) differences.push(`${at}: the file carries a bundle (sha256 ${theirs}) where the build has none`);
    else if (theirs === undefined) differences.push(`${at}: the build carries a bundle (sha256 ${mine}) the file lacks`);
    else if (mine !== theirs) differences.push(`${at}: payload sha256 mismatch: build ${mine}, file ${theirs}`);
  }
  differences.push(...diff(left.value, right.value, ''));
  return differences;
}

interface Normalized {
  readonly value: unknown;
  /** Location of each run step → sha256 of its decoded bundle. */
  readonly payloads: Map<string, string>;
}

/** Replaces each run step that carries a bundle by its template, collecting the bundle's sha256. */
function normalizeRunSteps(node: unknown, at: string, problems: string[], side: 'build' | 'file'): Normalized {
  const payloads = new Map<string, string>();
  const walk = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}[${i}]`));
    if (!isObj(value)) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        const here = path === '' ? key : `${path}.${key}`;
        if (key === 'run' && isObj(item)) {
          try {
            const decoded = decodeRunStep(item);
            if (decoded === undefined) return [key, walk(item, here)];
            payloads.set(here, decoded.sha256);
            return [key, decoded.template];
          } catch (error) {
            problems.push(`${here}: the ${side === 'build' ? "build's" : "file's"} payload does not decode: ${(error as Error).message}`);
            return [key, { ...item, environment: '<undecodable payload>' }];
          }
        }
        return [key, walk(item, here)];
      }),
    );
  };
  return { value: walk(node, at), payloads };
}

function unionKeys(a: Obj, b: Obj): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

/** Paths where two parsed values differ, each with both sides. */
export function diff(built: unknown, published: unknown, at: string): string[] {
  const where = at === '' ? '(whole)' : at;
  if (isObj(built) && isObj(published)) {
    const out: string[] = [];
    for (const key of unionKeys(built, published)) {
      const here = at === '' ? key : `${at}.${key}`;
      if (!(key in published)) out.push(`${here}: missing from the file (build has ${show(built[key])})`);
      else if (!(key in built)) out.push(`${here}: only in the file (${show(published[key])})`);
      else out.push(...diff(built[key], published[key], here));
    }
    return out;
  }
  if (Array.isArray(built) && Array.isArray(published)) {
    const out: string[] = [];
    if (built.length !== published.length) out.push(`${where}: ${built.length} items in the build, ${published.length} in the file`);
    for (let i = 0; i < Math.min(built.length, published.length); i++) out.push(...diff(built[i], published[i], `${at}[${i}]`));
    return out;
  }
  if (typeof built === 'string' && typeof published === 'string' && built !== published && (built.includes('\n') || published.includes('\n'))) {
    return [`${where}: text differs from line ${firstDifferentLine(built, published)} (build ${show(lineAt(built, firstDifferentLine(built, published)))}, file ${show(lineAt(published, firstDifferentLine(built, published)))})`];
  }
  if (Object.is(built, published)) return [];
  return [`${where}: build ${show(built)}, file ${show(published)}`];
}

function firstDifferentLine(a: string, b: string): number {
  const left = a.split('\n');
  const right = b.split('\n');
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i++;
  return i + 1;
}

function lineAt(text: string, line: number): string | undefined {
  return text.split('\n')[line - 1];
}

const MAX_SHOWN = 80;

/** A value as one short line of JSON. */
function show(value: unknown): string {
  if (value === undefined) return '(nothing)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

/** `command login: match` or `command login: differs: a; b`. */
export function verdictLine(verdict: Verdict, readablePath?: string): string {
  const readable = readablePath === undefined ? '' : ` (readable: ${readablePath})`;
  if (verdict.differences.length === 0) return `${verdict.subject}: match${readable}`;
  return `${verdict.subject}: differs: ${verdict.differences.join('; ')}${readable}`;
}
