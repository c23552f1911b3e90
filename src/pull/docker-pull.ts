import type { RunProcess } from '../core/process.ts';
import { parseReference, repositoryName, type ImageReference } from '../registry/reference.ts';
import { DockerCommandError } from '../docker/error.ts';
import type { ProgressClock } from './progress-board.ts';
import { PullProgressParser, terminalText, type PullSnapshot } from './progress.ts';
import { PullStalled } from './stall.ts';

/**
 * The docker CLI calls regauth/pull makes. The environment is passed through unchanged, so
 * DOCKER_HOST, DOCKER_CONFIG and the proxy variables reach docker as the user set them.
 */
export interface PullDocker {
  /**
   * Resolves to the digest docker reported for what it pulled, when its output names one.
   * `watch` hears what docker has done so far, as it happens.
   */
  pull(reference: string, platform: string | undefined, watch?: (snapshot: PullSnapshot) => void): Promise<string | undefined>;
  /** The registry digest of a pulled image, when docker recorded one (an extra docker call). */
  digest(ref: ImageReference): Promise<string | undefined>;
  tag(source: string, target: string): Promise<void>;
  /**
   * The engine's `image inspect` of `reference`: its size in bytes and platform (os/arch[/variant]);
   * undefined when it does not hold it.
   */
  held(reference: string): Promise<HeldImage | undefined>;
  /** Sizes in bytes of images the engine holds, in one docker call; undefined where unknown. */
  sizes(references: readonly string[]): Promise<(number | undefined)[]>;
}

export interface PullWatchdog {
  clock: ProgressClock;
  /** No output from docker for this long ends the attempt. */
  stallMs: number;
  /**
   * Run docker pull on a terminal (util-linux `script`), so docker reports bytes: then any
   * output means bytes moved. Without it docker is silent while a layer downloads.
   */
  terminal: boolean;
}

export interface HeldImage {
  sizeBytes: number | undefined;
  platform: string | undefined;
}

/** How often the watchdog looks; a stall is noticed at most this late. */
export const PULL_WATCH_TICK_MS = 500;

/**
 * The constant command `script` runs: the reference and platform travel in the environment, so
 * nothing regauth was given is ever parsed by a shell.
 */
const TERMINAL_PULL = 'exec docker pull ${REGAUTH_PULL_PLATFORM:+--platform "$REGAUTH_PULL_PLATFORM"} "$REGAUTH_PULL_REFERENCE"';


export function pullDocker(run: RunProcess, env: NodeJS.ProcessEnv, watchdog?: PullWatchdog): PullDocker {
  const docker = async (args: string[]): Promise<string> => {
    const result = await run({ command: 'docker', args, env });
    if (result.exitCode !== 0) throw new DockerCommandError(args, result.exitCode, failureOutput(result.stdout, result.stderr));
    return result.stdout;
  };
  return {
    async pull(reference, platform, watch) {
      // Not -q: the status lines (captured, never printed) tell layers done and end with the
      // digest, which saves an `image inspect` per image.
      const args = ['pull', ...(platform === undefined ? [] : ['--platform', platform]), reference];
      const parser = new PullProgressParser();
      const controller = new AbortController();
      const clock = watchdog?.clock;
      let lastOutput = clock?.now() ?? 0;
      let stalled = false;
      const stopWatching =
        clock === undefined || watchdog === undefined
          ? () => undefined
          : clock.every(PULL_WATCH_TICK_MS, () => {
              if (stalled || clock.now() - lastOutput < watchdog.stallMs) return;
              stalled = true;
              controller.abort();
            });
      const onOutput = (chunk: string): void => {
        lastOutput = clock?.now() ?? 0;
        parser.feed(chunk);
        watch?.(parser.snapshot());
      };
      const request = watchdog?.terminal
        ? {
            command: 'script',
            args: ['-q', '-e', '-f', '-c', TERMINAL_PULL, '/dev/null'],
            env: { ...env, SHELL: '/bin/sh', DOCKER_CLI_HINTS: 'false', REGAUTH_PULL_REFERENCE: reference, REGAUTH_PULL_PLATFORM: platform ?? '' },
          }
        : { command: 'docker', args, env };
      let result;
      try {
        result = await run({ ...request, onOutput, signal: controller.signal });
      } finally {
        stopWatching();
      }
      if (stalled && watchdog !== undefined) throw new PullStalled(reference, watchdog.stallMs);
      // On a terminal docker's errors arrive on the same stream as its redrawn status lines.
      if (result.exitCode !== 0) throw new DockerCommandError(args, result.exitCode, terminalText(failureOutput(result.stdout, result.stderr)));
      return parser.snapshot().digest ?? digestFromPullOutput(result.stdout);
    },
    async held(reference) {
      const format = '{{json .Size}} {{.Os}}/{{.Architecture}}{{if .Variant}}/{{.Variant}}{{end}}';
      const result = await run({ command: 'docker', args: ['image', 'inspect', '--format', format, reference], env });
      if (result.exitCode !== 0) {
        // Only "no such image" means absent; anything else (no daemon) is the pull's to report.
        if (/No such image|No such object/i.test(result.stderr)) return undefined;
        throw new DockerCommandError(['image', 'inspect', reference], result.exitCode, failureOutput(result.stdout, result.stderr));
      }
      const [size, platform] = result.stdout.trim().split(' ');
      return { sizeBytes: parseSize(size ?? ''), platform: platform === undefined || platform === '' || platform === '/' ? undefined : platform.toLowerCase() };
    },
    async sizes(references) {
      if (references.length === 0) return [];
      // One process for every image: under load each docker call costs more than the inspect.
      const result = await run({ command: 'docker', args: ['image', 'inspect', '--format', '{{json .Size}}', ...references], env });
      const lines = result.stdout.split('\n').filter((line) => line.trim() !== '');
      // A missing image shortens the list, and then no line can be matched to its image.
      if (result.exitCode !== 0 || lines.length !== references.length) return references.map(() => undefined);
      return lines.map(parseSize);
    },
    async digest(ref) {
      if (ref.digest !== undefined) return ref.digest;
      const stdout = await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref.normalized]);
      return pickRepoDigest(stdout, ref);
    },
    async tag(source, target) {
      await docker(['tag', source, target]);
    },
  };
}

function parseSize(text: string): number | undefined {
  const size = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(size) && size >= 0 ? size : undefined;
}

/**
 * Whether docker pull can run on a terminal here: util-linux `script` allocates one and passes
 * the exit status back (`-e`); anything else (busybox's, no /dev/pts) falls back to plain pipes.
 */
export async function terminalAvailable(run: RunProcess, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    const result = await run({ command: 'script', args: ['-q', '-e', '-c', 'exit 3', '/dev/null'], env: { ...env, SHELL: '/bin/sh' } });
    return result.exitCode === 3;
  } catch {
    return false;
  }
}

/**
 * docker's verdict is on stderr; its stdout holds status lines that name the image (which may
 * contain words like "error"), so it is only a fallback for a docker that wrote nothing there.
 */
export function failureOutput(stdout: string, stderr: string): string {
  return stderr.trim() === '' ? stdout : stderr;
}

/** `Digest: sha256:…`, which docker prints after every pull, fresh or already present. Pure. */
export function digestFromPullOutput(stdout: string): string | undefined {
  const matches = [...stdout.matchAll(/^Digest: (sha256:[a-f0-9]{64})\s*$/gm)];
  return matches.at(-1)?.[1];
}

/**
 * From `docker image inspect`'s RepoDigests (familiar names, e.g. `postgres@sha256:…`) the
 * digest recorded for this repository; another repository's digest of the same image is the
 * same manifest, so it serves when ours is missing (e.g. after a tag from a mirror).
 */
export function pickRepoDigest(inspectOutput: string, ref: ImageReference): string | undefined {
  let entries: unknown;
  try {
    entries = JSON.parse(inspectOutput.trim() || 'null');
  } catch {
    return undefined;
  }
  if (!Array.isArray(entries)) return undefined;
  const digests: { repository: string; digest: string }[] = [];
  for (const entry of entries) {
    if (typeof entry !== 'string') continue;
    try {
      const parsed = parseReference(entry);
      if (parsed.digest !== undefined) digests.push({ repository: repositoryName(parsed), digest: parsed.digest });
    } catch {
      // docker wrote something we do not understand; ignore that entry.
    }
  }
  const wanted = repositoryName(ref);
  return (digests.find((d) => d.repository === wanted) ?? digests[0])?.digest;
}

/**
 * The manifest digests the engine holds (RepoDigests), in one docker call: an image whose
 * manifest is among them downloads nothing. Never throws; empty when docker cannot say.
 */
export async function heldManifestDigests(run: RunProcess, env: NodeJS.ProcessEnv): Promise<Set<string>> {
  try {
    const result = await run({ command: 'docker', args: ['image', 'ls', '--digests', '--no-trunc', '--format', '{{.Digest}}'], env });
    if (result.exitCode !== 0) return new Set();
    return new Set(result.stdout.split('\n').map((line) => line.trim()).filter((line) => /^sha256:[a-f0-9]{64}$/.test(line)));
  } catch {
    return new Set();
  }
}
