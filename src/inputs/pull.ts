import { InputError } from '../core/errors.ts';
import { parseMirrorPrefix, parseReference, ReferenceFormatError, type ImageReference } from '../registry/reference.ts';
import { integerParameter, listParameter, stringParameter, type Env } from './common.ts';

/** The regauth/pull parameters, validated before anything runs. Pure. */
export interface PullInputs {
  /** Normalised, duplicates removed, in the order given. */
  images: ImageReference[];
  concurrency: number;
  maxAttempts: number;
  platform: string | undefined;
  mirror: string | undefined;
}

export const PULL_DEFAULTS = { concurrency: 4, maxAttempts: 5 } as const;

export function readPullInputs(env: Env): PullInputs {
  return {
    images: readImages(env),
    concurrency: integerParameter(env, 'concurrency', { min: 1, max: 32, fallback: PULL_DEFAULTS.concurrency }),
    maxAttempts: integerParameter(env, 'max_attempts', { min: 1, max: 10, fallback: PULL_DEFAULTS.maxAttempts }),
    platform: readPlatform(env),
    mirror: readMirror(env),
  };
}

function readImages(env: Env): ImageReference[] {
  const items = listParameter(env, 'images');
  if (items.length === 0) throw new InputError('images', 'is empty; give at least one image reference (separated by commas, spaces or newlines)');
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
