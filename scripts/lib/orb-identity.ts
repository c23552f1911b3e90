/**
 * The orb's identity in one place: package.json's `"orb": {"namespace", "sourceUrl", "homeUrl"}`
 * (the orb's name is package.json's `name`). The build stamps it into the packed orb (`display`,
 * each example's `orbs:` line); `npm run orb-identity` writes it into the sources that show it
 * (orb/@orb.yml, orb/examples/*.yml, README.md, CHANGELOG.md); `identityProblems` lists every
 * place that disagrees, for the test that keeps them in step.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface OrbIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly sourceUrl: string;
  readonly homeUrl: string;
}

/** CircleCI namespaces and orb names: lower-case letters, digits, - and _. */
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function readOrbIdentity(root: string): OrbIdentity {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown; orb?: Record<string, unknown> };
  const orb = pkg.orb ?? {};
  const identity = { namespace: String(orb['namespace'] ?? ''), name: String(pkg.name ?? ''), sourceUrl: String(orb['sourceUrl'] ?? ''), homeUrl: String(orb['homeUrl'] ?? '') };
  if (!NAME.test(identity.namespace)) throw new Error(`package.json orb.namespace must be a CircleCI namespace (a-z, 0-9, -, _), got ${JSON.stringify(identity.namespace)}`);
  if (!NAME.test(identity.name)) throw new Error(`package.json name must be a CircleCI orb name, got ${JSON.stringify(identity.name)}`);
  for (const key of ['sourceUrl', 'homeUrl'] as const) {
    if (!/^https:\/\/[^\s/]+\.[^\s/]+(\/\S*)?$/.test(identity[key])) throw new Error(`package.json orb.${key} must be an https URL, got ${JSON.stringify(identity[key])}`);
  }
  return identity;
}

/** `namespace/name` as the registry and `orbs:` lines spell it. */
export function orbName(identity: OrbIdentity): string {
  return `${identity.namespace}/${identity.name}`;
}

/** Any `<namespace>/<name>@` reference to this orb, whatever namespace it names. */
function referencePattern(identity: OrbIdentity): RegExp {
  return new RegExp(`\\b[a-z0-9][a-z0-9_-]*/${identity.name}@`, 'g');
}

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The packed orb with `display` and every example's reference to this orb set from `identity`. */
export function withOrbIdentity(packed: Obj, identity: OrbIdentity): Obj {
  const display = { ...(isObj(packed['display']) ? packed['display'] : {}), source_url: identity.sourceUrl, home_url: identity.homeUrl };
  const examples = isObj(packed['examples']) ? packed['examples'] : undefined;
  if (examples === undefined) return { ...packed, display };
  const stamped: Obj = {};
  for (const [key, example] of Object.entries(examples)) {
    const usage = isObj(example) && isObj(example['usage']) ? example['usage'] : undefined;
    const orbs = usage !== undefined && isObj(usage['orbs']) ? usage['orbs'] : undefined;
    if (usage === undefined || orbs === undefined) {
      stamped[key] = example;
      continue;
    }
    const renamed = Object.fromEntries(Object.entries(orbs).map(([alias, ref]) => [alias, typeof ref === 'string' ? ref.replace(referencePattern(identity), `${orbName(identity)}@`) : ref]));
    stamped[key] = { ...(example as Obj), usage: { ...usage, orbs: renamed } };
  }
  return { ...packed, display, examples: stamped };
}

/** A source file's text with the identity written in; `file` is relative to the repository. */
export function stampText(file: string, text: string, identity: OrbIdentity): string {
  let out = text.replace(referencePattern(identity), `${orbName(identity)}@`);
  if (file === 'orb/@orb.yml') {
    out = out.replace(/^(\s+source_url:).*$/m, `$1 ${identity.sourceUrl}`).replace(/^(\s+home_url:).*$/m, `$1 ${identity.homeUrl}`);
  }
  return out;
}

/** The files that show the orb's identity, relative to the repository. */
export function identityFiles(root: string): string[] {
  const examples = readdirSync(join(root, 'orb', 'examples')).filter((file) => file.endsWith('.yml')).sort();
  return ['orb/@orb.yml', ...examples.map((file) => `orb/examples/${file}`), 'README.md', 'CHANGELOG.md'];
}

/** One line per file whose text differs from what the identity makes of it. */
export function identityProblems(root: string, identity = readOrbIdentity(root)): string[] {
  const problems: string[] = [];
  for (const file of identityFiles(root)) {
    const text = readFileSync(join(root, file), 'utf8');
    if (stampText(file, text, identity) !== text) problems.push(`${file} does not name ${orbName(identity)} (${identity.sourceUrl}) everywhere`);
  }
  return problems;
}

/** Writes the identity into every file that shows it; returns the files it changed. */
export function writeOrbIdentity(root: string, identity = readOrbIdentity(root)): string[] {
  const changed: string[] = [];
  for (const file of identityFiles(root)) {
    const path = join(root, file);
    const text = readFileSync(path, 'utf8');
    const stamped = stampText(file, text, identity);
    if (stamped === text) continue;
    writeFileSync(path, stamped);
    changed.push(file);
  }
  return changed;
}
