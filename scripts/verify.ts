/**
 * npm run verify -- FILE [--readable]: rebuilds the orb from this checkout (as `npm run build`
 * does, writing dist/) and compares FILE, an orb as the registry returns it (`circleci orb
 * source org/regauth@X.Y.Z > FILE`), command by command: each run step's bundle by the sha256 of
 * its decoded JavaScript, the YAML around it by parsed content. One line per command, job,
 * executor and example, then the top-level keys; exit 1 on any difference, 2 when FILE cannot be
 * read. --readable adds the path of each command's unminified bundle (dist/readable/).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildRelease, readablePath, writeRelease, type Release } from './build.ts';
import { compareOrbs, verdictLine } from './lib/orb-diff.ts';

const USAGE = 'usage: npm run verify -- FILE [--readable]   (FILE: the published orb, e.g. from `circleci orb source org/regauth@X.Y.Z`)';

export interface VerifyDeps {
  /** Builds the orb from the checkout (tests hand in one build for several checks). */
  readonly build: () => Promise<Release>;
  /** Writes the build to dist/, so the readable bundles named exist. */
  readonly write: (release: Release) => void;
}

const DEFAULT_DEPS: VerifyDeps = { build: buildRelease, write: writeRelease };

export async function verify(args: readonly string[], print: (line: string) => void, deps: VerifyDeps = DEFAULT_DEPS): Promise<number> {
  const readable = args.includes('--readable');
  const files = args.filter((arg) => arg !== '--readable');
  if (files.length !== 1 || files[0]?.startsWith('-')) {
    print(USAGE);
    return 2;
  }
  const file = files[0] as string;
  let published: unknown;
  try {
    published = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    print(`verify: cannot read ${file} as YAML: ${(error as Error).message}`);
    return 2;
  }
  const release = await deps.build();
  deps.write(release);
  const verdicts = compareOrbs(parse(release.orbYaml), published);
  for (const verdict of verdicts) {
    print(verdictLine(verdict, readable && verdict.command !== undefined ? readablePath(verdict.command) : undefined));
  }
  const differing = verdicts.filter((v) => v.differences.length > 0).length;
  print(differing === 0 ? `${file}: every part matches the build of this checkout (regauth ${release.version})` : `${file}: ${differing} of ${verdicts.length} parts differ from the build of this checkout`);
  return differing === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  verify(process.argv.slice(2), (line) => console.log(line)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
}
