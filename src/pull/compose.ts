import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { InputError, UserError } from '../core/errors.ts';
import { ProcessStartError, type RunProcess } from '../core/process.ts';
import { dockerErrorLine } from '../docker/error.ts';
import { parseReference, ReferenceFormatError, type ImageReference } from '../registry/reference.ts';
import { failureOutput } from './docker-pull.ts';

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
 * Where an image compose listed came from, for a refusal: `literal` when the compose files hold
 * it as written (then it may be quoted back), else the files' `image:` lines that name variables.
 */
export interface ImageOrigin {
  literal: boolean;
  /** `compose.yml: image: "${REG}/app:${TAG}"`, as written in the files. */
  templates: string[];
}

/**
 * compose's answer → references, in order, duplicates removed. Pure. A refused image is quoted
 * only when `origin` says the files hold it literally: compose may have filled it from a
 * variable, and a part of a secret is something CircleCI's whole-value masking misses.
 */
export function parseComposeImages(stdout: string, origin: (item: string) => ImageOrigin = () => ({ literal: false, templates: [] })): ImageReference[] {
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
      if (error instanceof ReferenceFormatError) throw new UserError(refusal(item, position, error.reason, origin(item)), 2);
      throw error;
    }
    if (seen.has(ref.normalized)) continue;
    seen.add(ref.normalized);
    images.push(ref);
  }
  return images;
}

function refusal(item: string, position: number, reason: string, origin: ImageOrigin): string {
  if (origin.literal) return `compose_files: docker compose names an image regauth will not pull, ${JSON.stringify(item.slice(0, 200))}: ${reason}`;
  const from = origin.templates.length === 0 ? 'resolved by compose' : `resolved by compose from ${origin.templates.slice(0, 3).join('; ')}`;
  // The reason may quote a piece of the value (the tag): that goes too; the rule's own quotes stay.
  const unquoted = reason.replace(/"(?:[^"\\]|\\.)*"/g, (quoted) => (pieceOf(item, quoted) ? '(not shown)' : quoted));
  return `compose_files: docker compose names an image regauth will not pull (image ${position} of its list, ${from}; not shown, as a variable may hold a secret): ${unquoted}`;
}

function pieceOf(item: string, quoted: string): boolean {
  try {
    const text: unknown = JSON.parse(quoted);
    return typeof text === 'string' && text !== '' && item.includes(text) && !/^[_.-]$/.test(text);
  } catch {
    return true;
  }
}

/** The files' own text: is `item` written there, and which `image:` lines take variables. */
export async function imageOrigin(paths: readonly string[], names: readonly string[], item: string): Promise<ImageOrigin> {
  let literal = false;
  const templates: string[] = [];
  for (const [index, path] of paths.entries()) {
    let text: string;
    try {
      const info = await fs.lstat(path);
      if (!info.isFile() || info.size > 1024 * 1024) continue;
      text = await fs.readFile(path, 'utf8');
    } catch {
      continue;
    }
    if (text.includes(item)) literal = true;
    for (const line of text.split('\n')) {
      const match = /^\s*image:\s*(.*\$.*?)\s*$/.exec(line);
      if (match?.[1] !== undefined) templates.push(`${names[index] ?? path}: image: ${match[1].slice(0, 120)}`);
    }
  }
  return { literal, templates };
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
  const toPull = listed.filter((name) => !built.has(name));
  // Where a refused image came from is only looked up when one is refused.
  const origins = new Map<string, ImageOrigin>();
  for (const item of toPull) {
    try {
      parseReference(item);
    } catch {
      origins.set(item, await imageOrigin(paths, files, item));
    }
  }
  const origin = (item: string): ImageOrigin => origins.get(item) ?? { literal: false, templates: [] };
  // A built image's name may come from a variable too: only names the files spell out are shown.
  const texts = built.size === 0 ? [] : await Promise.all(paths.map((path) => fs.readFile(path, 'utf8').catch(() => '')));
  const written = (name: string): boolean => texts.some((text) => text.includes(name));
  const builtNames = listed.filter((name) => built.has(name));
  return { images: parseComposeImages(toPull.join('\n'), origin), built: builtNames.filter(written), builtUnnamed: builtNames.filter((name) => !written(name)).length };
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
