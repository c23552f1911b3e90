// The software bill of materials of what the orb ships: the npm packages esbuild put into the
// command bundles (read from the build's metafile), described from their installed package.json
// and the lockfile, written as CycloneDX JSON through the CycloneDX library.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Enums, Models, Serialize, Spec, SPDX } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';

/** One package directory as the lockfile names it (`node_modules/a/node_modules/@b/c`), with the commands that carry it. */
export interface BundledPackage {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly license: string;
  /** The lockfile's Subresource Integrity string (`sha512-<base64>`). */
  readonly integrity: string;
  readonly commands: readonly string[];
}

/** The metafile output's inputs that contributed bytes, as paths relative to the build's working directory. */
export interface MetafileOutput {
  readonly inputs: Readonly<Record<string, { readonly bytesInOutput: number }>>;
}

/** The innermost `node_modules/<name>` or `node_modules/@scope/<name>` directory of an input path. */
const PACKAGE_DIR = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//;

/** Package directories (lockfile keys) of the inputs esbuild put into one output, sorted. */
export function bundledPackageDirs(output: MetafileOutput): string[] {
  const dirs = new Set<string>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    if (bytesInOutput === 0) continue; // parsed, but tree-shaken away entirely
    const dir = PACKAGE_DIR.exec(input.replaceAll('\\', '/'))?.[1];
    if (dir !== undefined) dirs.add(dir);
  }
  return [...dirs].sort();
}

interface LockEntry {
  version?: string;
  integrity?: string;
  license?: string;
}

/** Describes each bundled package directory from its package.json and package-lock.json. */
export function describePackages(root: string, usage: ReadonlyMap<string, readonly string[]>): BundledPackage[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages?: Record<string, LockEntry> };
  return [...usage.keys()].sort().map((path) => {
    const manifest = JSON.parse(readFileSync(join(root, path, 'package.json'), 'utf8')) as { name?: string; version?: string; license?: string };
    const entry = lock.packages?.[path];
    if (!manifest.name || !manifest.version) throw new Error(`${path}/package.json has no name or version`);
    if (!entry?.integrity) throw new Error(`package-lock.json has no integrity for ${path}: run npm install to refresh the lockfile`);
    if (entry.version !== manifest.version) throw new Error(`${path} is ${manifest.version} but package-lock.json says ${String(entry.version)}: run npm ci`);
    return {
      path,
      name: manifest.name,
      version: manifest.version,
      license: manifest.license ?? entry.license ?? 'NOASSERTION',
      integrity: entry.integrity,
      commands: [...(usage.get(path) ?? [])].sort(),
    };
  });
}

/** `sha512-<base64>` → the algorithm and hex digest CycloneDX expects. */
export function integrityHash(integrity: string): [Enums.HashAlgorithm, string] {
  const match = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(integrity.split(/\s+/)[0] ?? '');
  if (!match?.[1] || !match[2]) throw new Error(`unsupported integrity string: ${integrity}`);
  const algorithm = { sha1: Enums.HashAlgorithm['SHA-1'], sha256: Enums.HashAlgorithm['SHA-256'], sha384: Enums.HashAlgorithm['SHA-384'], sha512: Enums.HashAlgorithm['SHA-512'] }[match[1] as 'sha1'];
  return [algorithm, Buffer.from(match[2], 'base64').toString('hex')];
}

/** The property naming the orb commands whose bundle carries a component (comma-separated). */
export const COMMANDS_PROPERTY = 'regauth:commands';

/** The purl of an npm package: `pkg:npm/%40scope/name@1.2.3`. */
export function npmPurl(name: string, version: string): string {
  const [scope, bare] = name.startsWith('@') ? (name.split('/', 2) as [string, string]) : [undefined, name];
  return new PackageURL('npm', scope, bare, version, undefined, undefined).toString();
}

function license(expression: string): Models.License {
  if (SPDX.isSupportedSpdxId(expression)) return new Models.SpdxLicense(expression);
  // "(MIT OR Apache-2.0)" and the like; anything else is named as written.
  if (/\b(AND|OR|WITH)\b/.test(expression)) return new Models.LicenseExpression(expression);
  return new Models.NamedLicense(expression);
}

/**
 * CycloneDX 1.6 JSON for the packages. Reproducible: no timestamp, lists sorted, and the serial
 * number derived from the content, so the same build gives the same bytes.
 */
export function sbomJson(packages: readonly BundledPackage[], subject: { name: string; version: string; license: string }): string {
  const bom = new Models.Bom();
  bom.metadata.component = new Models.Component(Enums.ComponentType.Application, subject.name, {
    version: subject.version,
    bomRef: `${subject.name}@${subject.version}`,
    licenses: new Models.LicenseRepository([license(subject.license)]),
    description: 'CircleCI orb; the components are the npm packages bundled into its command run steps',
  });
  for (const pkg of packages) {
    const [algorithm, digest] = integrityHash(pkg.integrity);
    const purl = npmPurl(pkg.name, pkg.version);
    const component = new Models.Component(Enums.ComponentType.Library, pkg.name, {
      version: pkg.version,
      bomRef: purl,
      purl,
      scope: Enums.ComponentScope.Required,
      licenses: new Models.LicenseRepository([license(pkg.license)]),
      hashes: new Models.HashDictionary([[algorithm, digest]]),
      properties: new Models.PropertyRepository([new Models.Property(COMMANDS_PROPERTY, pkg.commands.join(','))]),
    });
    bom.components.add(component);
    bom.metadata.component.dependencies.add(component.bomRef);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  const unnumbered = serializer.serialize(bom, { sortLists: true, space: 2 });
  bom.serialNumber = contentSerialNumber(unnumbered);
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}

/** A version-4-shaped UUID URN from the document's own sha256: equal content, equal serial. */
export function contentSerialNumber(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex').slice(0, 32).split('');
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The former plain-text list, kept beside the SBOM: `name@version (licence)` per package. */
export function thirdPartyText(packages: readonly BundledPackage[]): string {
  const lines = [...new Set(packages.map((p) => `${p.name}@${p.version} (${p.license})`))].sort();
  return `Packages bundled into dist/orb.yml:\n${lines.join('\n')}\n`;
}
