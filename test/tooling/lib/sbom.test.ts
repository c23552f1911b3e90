import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_OPTIONS, buildRelease, orbCommands, type Release } from '../../../scripts/build.ts';
import { COMMANDS_PROPERTY, contentSerialNumber, integrityHash, npmPurl } from '../../../scripts/lib/sbom.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');

interface SbomComponent {
  name: string;
  version: string;
  purl: string;
  hashes: { alg: string; content: string }[];
  licenses: { license?: { id?: string; name?: string }; expression?: string }[];
  properties: { name: string; value: string }[];
}

let release: Release;
let sbom: { serialNumber: string; metadata: { timestamp?: string; component: { name: string; version: string } }; components: SbomComponent[] };
/** `name@version` → commands whose bundle esbuild put it in, found independently of scripts/lib/sbom.ts. */
const shipped = new Map<string, Set<string>>();

/**
 * The package an input file belongs to: the nearest package.json above it that has a name and a
 * version (SDK packages keep nameless `{"type": …}` package.json files in their dist folders).
 */
function owningPackage(input: string): { name: string; version: string; dir: string } | undefined {
  let dir = dirname(join(root, input));
  while (dir.startsWith(join(root, 'node_modules'))) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name && manifest.version) return { name: manifest.name, version: manifest.version, dir };
    }
    dir = dirname(dir);
  }
  return undefined;
}

beforeAll(async () => {
  release = await buildRelease();
  sbom = JSON.parse(release.sbom) as typeof sbom;
  for (const command of orbCommands()) {
    // The build's own settings, bundled here again: the metafile says what went in.
    const result = await build({
      ...BUNDLE_OPTIONS,
      absWorkingDir: root,
      entryPoints: [join(root, 'src', 'commands', `${command}.ts`)],
      write: false,
      outfile: join(root, 'dist', 'sbom-test.js'),
      logLevel: 'error',
    });
    for (const output of Object.values(result.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        if (bytesInOutput === 0 || !input.includes('node_modules')) continue;
        const pkg = owningPackage(input);
        if (!pkg) throw new Error(`no package.json above ${input}`);
        const key = `${pkg.name}@${pkg.version}`;
        shipped.set(key, (shipped.get(key) ?? new Set()).add(command));
      }
    }
  }
}, 60_000);

describe('dist/sbom.cdx.json', () => {
  it('lists every package esbuild put into a bundle, and nothing else', () => {
    expect(shipped.size).toBeGreaterThan(0);
    expect(sbom.components.map((c) => `${c.name}@${c.version}`).sort()).toEqual([...shipped.keys()].sort());
  });

  it('names the commands that carry each package', () => {
    for (const component of sbom.components) {
      const property = component.properties.filter((p) => p.name === COMMANDS_PROPERTY);
      expect(property).toHaveLength(1);
      expect(property[0]?.value.split(',')).toEqual([...(shipped.get(`${component.name}@${component.version}`) ?? [])].sort());
    }
  });

  it("carries each package's lockfile integrity hash, licence and purl", () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; integrity?: string }> };
    for (const component of sbom.components) {
      const entries = Object.entries(lock.packages).filter(([path, entry]) => path.endsWith(`node_modules/${component.name}`) && entry.version === component.version);
      expect(entries, component.name).toHaveLength(1);
      const [algorithm, digest] = integrityHash(entries[0]?.[1].integrity ?? '');
      expect(component.hashes).toEqual([{ alg: algorithm, content: digest }]);
      expect(digest).toMatch(/^[0-9a-f]{128}$/);
      const manifest = JSON.parse(readFileSync(join(root, entries[0]?.[0] ?? '', 'package.json'), 'utf8')) as { license: string };
      expect(component.licenses).toEqual([{ license: { id: manifest.license } }]);
      expect(component.purl).toBe(npmPurl(component.name, component.version));
    }
    expect(npmPurl('@aws-sdk/core', '3.1.0')).toBe('pkg:npm/%40aws-sdk/core@3.1.0');
    expect(npmPurl('agent-base', '9.0.0')).toBe('pkg:npm/agent-base@9.0.0');
  });

  it('is valid CycloneDX 1.6 (the schema the library ships, checked offline)', async () => {
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    expect(await validator.validate(release.sbom)).toBeNull();
  });

  it('is reproducible: no timestamp, and a serial number derived from the content', () => {
    expect(sbom.metadata.timestamp).toBeUndefined();
    expect(sbom.metadata.component).toMatchObject({ name: 'regauth', version: release.version });
    const withoutSerial = JSON.stringify({ ...sbom, serialNumber: undefined });
    expect(sbom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(contentSerialNumber('a')).not.toBe(contentSerialNumber('b'));
    expect(contentSerialNumber(withoutSerial)).toBe(contentSerialNumber(withoutSerial));
  });

  it('THIRD_PARTY.txt lists the same packages', () => {
    expect(release.thirdParty.split('\n').slice(1, -1)).toEqual(sbom.components.map((c) => `${c.name}@${c.version} (${c.licenses[0]?.license?.id ?? ''})`).sort());
  });
});

describe('dist/readable', () => {
  it('holds, per command, the same code unminified: the same packages and source files, with a source map whose sources exist', () => {
    for (const { command, readable } of release.commands) {
      expect(readable.code).toMatch(new RegExp(`//# sourceMappingURL=${command}\\.js\\.map\\n$`));
      const map = JSON.parse(readable.map) as { sources: string[]; sourcesContent: string[] };
      // The entry esbuild is handed on stdin has no file: regauth-<command>.ts.
      const files = map.sources.filter((source) => !source.endsWith(`regauth-${command}.ts`));
      expect(files.length).toBeGreaterThan(0);
      // Our own files exist in the checkout and the map carries their text. A package's entry may
      // name TypeScript it does not ship (esbuild follows the package's own source map); the
      // bundled JavaScript itself is in the readable file either way.
      for (const source of files.filter((f) => !f.includes('node_modules/'))) expect(existsSync(join(root, 'dist', 'readable', source)), source).toBe(true);
      map.sources.forEach((source, i) => {
        if (!source.includes('node_modules/')) expect(typeof map.sourcesContent[i], source).toBe('string');
      });
      expect(files).toContain(`../../src/commands/${command}.ts`);
      expect(map.sourcesContent).toHaveLength(map.sources.length);
    }
  });
});
