import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * Packs an orb source folder the way `circleci orb pack` does: `@orb.yml` is the root, every
 * folder of YAML files becomes a key holding one entry per file, and a string whose whole value is
 * `<<include(path)>>` is replaced by that file's text with every `<<` escaped as `\<<`, so CircleCI
 * never reads included text as a parameter reference.
 */
export function packOrb(sourceDir: string, readInclude: (path: string) => string = (path) => readFileSync(join(sourceDir, path), 'utf8')): Record<string, unknown> {
  const root = readYaml(join(sourceDir, '@orb.yml'));
  if (root === null || typeof root !== 'object' || Array.isArray(root)) throw new Error(`${sourceDir}/@orb.yml must hold a mapping`);
  const packed: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  for (const entry of readdirSync(sourceDir).sort()) {
    const folder = join(sourceDir, entry);
    if (!statSync(folder).isDirectory()) continue;
    const files = readdirSync(folder).filter((file) => ['.yml', '.yaml'].includes(extname(file))).sort();
    if (files.length === 0) continue; // scripts/ and the like are only read through includes
    const section: Record<string, unknown> = {};
    for (const file of files) section[basename(file, extname(file))] = readYaml(join(folder, file));
    packed[entry] = section;
  }
  return resolveIncludes(packed, readInclude) as Record<string, unknown>;
}

const INCLUDE = /^<<\s*include\(([^)]+)\)\s*>>$/;

/** `readInclude` gets the include's path relative to the orb folder (the build hands over scripts it has not written yet). */
function resolveIncludes(node: unknown, readInclude: (path: string) => string): unknown {
  if (typeof node === 'string') {
    const match = INCLUDE.exec(node.trim());
    if (!match?.[1]) return node;
    return escapeIncluded(readInclude(match[1].trim()));
  }
  if (Array.isArray(node)) return node.map((item) => resolveIncludes(item, readInclude));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolveIncludes(value, readInclude)]));
  }
  return node;
}

export function escapeIncluded(text: string): string {
  return text.replaceAll('<<', '\\<<');
}

/** Deterministic YAML: block literals for multi-line strings, no line folding. */
export function orbToYaml(orb: Record<string, unknown>): string {
  return stringify(orb, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false });
}

function readYaml(file: string): unknown {
  return parse(readFileSync(file, 'utf8'));
}
