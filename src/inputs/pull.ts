import { InputError } from '../core/errors.ts';
import { parseMirrorPrefix, parseReference, ReferenceFormatError, type ImageReference } from '../registry/reference.ts';
import { expandEnvReferences, integerParameter, listParameter, stringParameter, type Env } from './common.ts';

/** The regauth/pull parameters, validated before anything runs. Pure. */
export interface PullInputs {
  /** Normalised, duplicates removed, in the order given. */
  images: ImageReference[];
  concurrency: number;
  maxAttempts: number;
  platform: string | undefined;
  mirror: string | undefined;
  /** docker compose files whose images are pulled too, as given (relative to the working directory). */
  composeFiles: string[];
  /** The run step's no_output_timeout in milliseconds (CircleCI enforces it; checked here first). */
  noOutputTimeoutMs: number;
}

export const PULL_DEFAULTS = { concurrency: 4, maxAttempts: 5, noOutputTimeout: '10m' } as const;

export function readPullInputs(env: Env): PullInputs {
  const composeFiles = readComposeFiles(env);
  return {
    images: readImages(env, composeFiles.length > 0),
    concurrency: integerParameter(env, 'concurrency', { min: 1, max: 32, fallback: PULL_DEFAULTS.concurrency }),
    maxAttempts: integerParameter(env, 'max_attempts', { min: 1, max: 10, fallback: PULL_DEFAULTS.maxAttempts }),
    platform: readPlatform(env),
    mirror: readMirror(env),
    composeFiles,
    noOutputTimeoutMs: readNoOutputTimeout(env),
  };
}

/**
 * CircleCI reads a run step's no_output_timeout as a decimal with one unit suffix: `90s`,
 * `20m`, `1.25h` (its config schema: `\d+(\.\d+)?[mhs]`). Pure.
 */
export function parseNoOutputTimeout(value: string): number | undefined {
  const match = /^(\d{1,6})(\.\d{1,3})?([smh])$/.exec(value);
  if (!match?.[1] || !match[3]) return undefined;
  const amount = Number(`${match[1]}${match[2] ?? ''}`);
  const ms = Math.round(amount * { s: 1000, m: 60_000, h: 3_600_000 }[match[3] as 's' | 'm' | 'h']);
  return ms >= 1000 ? ms : undefined;
}

function readNoOutputTimeout(env: Env): number {
  const value = stringParameter(env, 'no_output_timeout', { maxLength: 16 }) || PULL_DEFAULTS.noOutputTimeout;
  const ms = parseNoOutputTimeout(value);
  if (ms === undefined) {
    throw new InputError('no_output_timeout', `must be a number with a unit, as CircleCI reads it (for example 90s, 20m, 1.5h), of at least 1 s; got ${JSON.stringify(value)}`);
  }
  return ms;
}

const COMPOSE_FILES_MAX = 8192;

function readComposeFiles(env: Env): string[] {
  const raw = expandEnvReferences(env.REGAUTH_COMPOSE_FILES ?? '', env).trim();
  if (raw === '') return [];
  if (raw.length > COMPOSE_FILES_MAX) throw new InputError('compose_files', `is ${raw.length} characters long; the limit is ${COMPOSE_FILES_MAX}`);
  // Commas only: a file name may hold a space (spaces around commas are trimmed).
  const files = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const seen = new Set<string>();
  for (const file of files) {
    // The same refusal as every parameter, spaces apart (the value is already expanded).
    stringParameter({ REGAUTH_COMPOSE_FILES: file.replace(/ /g, '') }, 'compose_files', { maxLength: 1024 });
    if (file.startsWith('-')) throw new InputError('compose_files', `${JSON.stringify(file)} starts with "-"; write it as ./${file}`);
    seen.add(file);
  }
  return [...seen];
}

function readImages(env: Env, composeGiven: boolean): ImageReference[] {
  const items = listParameter(env, 'images');
  if (items.length === 0 && composeGiven) return [];
  if (items.length === 0) throw new InputError('images', 'is empty; give at least one image reference (separated by commas, spaces or newlines), or compose_files');
  const seen = new Set<string>();
  const images: ImageReference[] = [];
  for (const item of items) {
    const ref = rethrowAs('images', () => parseReference(item));
    if (seen.has(ref.normalized)) continue;
    seen.add(ref.normalized);
    images.push(ref);
  }
  return images;
}

// os/arch[/variant] as containerd spells them (linux/amd64, linux/arm64/v8, windows/amd64).
const PLATFORM = /^[a-z0-9_]+\/[a-z0-9_]+(?:\/[a-z0-9_.]+)?$/;

function readPlatform(env: Env): string | undefined {
  const value = stringParameter(env, 'platform', { maxLength: 128 });
  if (value === '') return undefined;
  const lower = value.toLowerCase();
  if (!PLATFORM.test(lower)) {
    throw new InputError('platform', `must be os/arch or os/arch/variant (for example linux/amd64 or linux/arm64/v8), got ${JSON.stringify(value)}`);
  }
  return lower;
}

function readMirror(env: Env): string | undefined {
  const value = stringParameter(env, 'mirror', { maxLength: 255 });
  if (value === '') return undefined;
  return rethrowAs('mirror', () => parseMirrorPrefix(value));
}

function rethrowAs<T>(parameter: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ReferenceFormatError) throw new InputError(parameter, error.message);
    throw error;
  }
}
