import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { InputError, UserError } from '../core/errors.ts';
import { ProcessStartError, type RunProcess } from '../core/process.ts';
import { dockerErrorLine } from '../docker/error.ts';
import { parseReference, ReferenceFormatError, type ImageReference } from '../registry/reference.ts';
import { failureOutput } from './docker.ts';

/**
 * The images docker compose files name, as `docker compose config --images` lists them: compose
 * itself resolves variables (with their defaults), `extends`, profiles and overrides, so regauth
 * never guesses at a compose file. No compose, no guess: one line that says so.
 */
export interface ComposeDeps {
  run: RunProcess;
  env: NodeJS.ProcessEnv;
  /** Where relative file names are looked up (the step's working directory). */
  cwd: string;
  /** lstat, injectable for tests. */
  stat?: (path: string) => Promise<{ isFile(): boolean }>;
}

export const NO_COMPOSE_LINE =
  'compose_files needs docker compose (the docker CLI plugin), and `docker compose` is not installed here: install the docker compose plugin, or list the images in `images` instead';

/** `docker compose` refusing to exist, in the docker CLI's words old and new. Pure. */
export function isMissingCompose(output: string): boolean {
  return /unknown command:? "?docker compose|'compose' is not a docker command|unknown shorthand flag: 'f' in -f|unknown flag: --file/i.test(output);
}

/** The argument list: absolute paths, each glued to its flag so none can read as a flag. Pure. */
export function composeArgs(paths: readonly string[]): string[] {
  return ['compose', ...paths.map((path) => `--file=${path}`), 'config', '--images'];
}

/**
 * compose's answer → references, in order, duplicates removed. Pure. A name compose resolved from
 * a variable may hold (part of) a secret, so a refused one is quoted back only when `written`
 * says the compose files spell it out; otherwise it is named by its position.
 */
export function parseComposeImages(stdout: string, written: (name: string) => boolean = () => false): ImageReference[] {
  const seen = new Set<string>();
  const images: ImageReference[] = [];
  let position = 0;
  for (const line of stdout.split('\n')) {
    const item = line.trim();
    if (item === '') continue;
    position += 1;
    let ref: ImageReference;
    try {
      ref = parseReference(item);
    } catch (error) {
      if (error instanceof ReferenceFormatError) {
        if (written(item)) throw new UserError(`compose_files: docker compose names an image regauth will not pull, ${JSON.stringify(item.slice(0, 200))}: ${error.reason}`, 2);
        // Neither the name nor the reason (which quotes a part of it) is shown.
        throw new UserError(`compose_files: docker compose names an image regauth will not pull, the image listed ${position}${ordinalSuffix(position)}: it resolved from a variable or .env to something that is not an image reference (not shown)`, 2);
      }
      throw error;
    }
    if (seen.has(ref.normalized)) continue;
    seen.add(ref.normalized);
    images.push(ref);
  }
  return images;
}

/**
 * From `docker compose config --format json`: the names `config --images` gives services that
 * only build (no `image:`), `<project>-<service>`. They are built, not pulled. Pure; anything
 * unreadable yields none.
 */
export function buildOnlyImages(json: string): Set<string> {
  const names = new Set<string>();
  let model: unknown;
  try {
    model = JSON.parse(json);
  } catch {
    return names;
  }
  if (typeof model !== 'object' || model === null) return names;
  const { name, services } = model as { name?: unknown; services?: unknown };
  if (typeof name !== 'string' || typeof services !== 'object' || services === null) return names;
  for (const [service, definition] of Object.entries(services)) {
    if (typeof definition !== 'object' || definition === null) continue;
    const { build, image } = definition as { build?: unknown; image?: unknown };
    if (build !== undefined && (typeof image !== 'string' || image === '')) names.add(`${name}-${service}`);
  }
  return names;
}

export interface ComposeImages {
  images: ImageReference[];
  /** Services compose builds rather than pulls, by the image name compose lists for them (those the files spell out). */
  built: string[];
  /** How many more it builds whose names the files do not spell out (perhaps from a variable: not shown). */
  builtUnnamed: number;
}

export async function composeImages(files: readonly string[], deps: ComposeDeps): Promise<ComposeImages> {
  const stat = deps.stat ?? ((path: string) => fs.lstat(path));
  const paths: string[] = [];
  for (const file of files) {
    const path = resolve(deps.cwd, file);
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new InputError('compose_files', `${JSON.stringify(file)} does not exist (looked for ${path}); check the path, which is relative to the step's working directory`);
    }
    if (!info.isFile()) throw new InputError('compose_files', `${JSON.stringify(file)} is not a regular file (${path})`);
    paths.push(path);
  }
  let result;
  try {
    result = await deps.run({ command: 'docker', args: composeArgs(paths), env: deps.env });
  } catch (error) {
    if (error instanceof ProcessStartError) throw new UserError(`compose_files: ${error.message}; compose_files needs the docker CLI with its compose plugin`);
    throw error;
  }
  const output = failureOutput(result.stdout, result.stderr);
  if (result.exitCode !== 0) {
    if (isMissingCompose(output)) throw new UserError(NO_COMPOSE_LINE);
    throw new UserError(`compose_files: docker compose could not read ${files.join(', ')}: ${dockerErrorLine(output)}`);
  }
  const listed = result.stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const built = listed.length === 0 ? new Set<string>() : await builtImages(paths, deps);
  const texts = await Promise.all(paths.map((path) => fs.readFile(path, 'utf8').catch(() => '')));
  const written = (name: string) => texts.some((text) => text.includes(name));
  return { images: parseComposeImages(listed.filter((name) => !built.has(name)).join('\n'), written), built: listed.filter((name) => built.has(name) && written(name)), builtUnnamed: listed.filter((name) => built.has(name) && !written(name)).length };
}

/** Best effort: a compose without `--format json` builds nothing regauth can tell apart. */
async function builtImages(paths: readonly string[], deps: ComposeDeps): Promise<Set<string>> {
  try {
    const result = await deps.run({ command: 'docker', args: ['compose', ...paths.map((path) => `--file=${path}`), 'config', '--format', 'json'], env: deps.env });
    return result.exitCode === 0 ? buildOnlyImages(result.stdout) : new Set();
  } catch {
    return new Set();
  }
}

function ordinalSuffix(n: number): string {
  if (n % 100 >= 11 && n % 100 <= 13) return 'th';
  return ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
}
