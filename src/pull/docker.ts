import type { RunProcess } from '../core/process.ts';
import { parseReference, repositoryName, type ImageReference } from '../registry/reference.ts';
import { DockerCommandError } from '../docker/error.ts';

/**
 * The docker CLI calls regauth/pull makes. The environment is passed through unchanged, so
 * DOCKER_HOST, DOCKER_CONFIG and the proxy variables reach docker as the user set them.
 */
export interface PullDocker {
  /** Resolves to the digest docker reported for what it pulled, when its output names one. */
  pull(reference: string, platform: string | undefined): Promise<string | undefined>;
  /** The registry digest of a pulled image, when docker recorded one (an extra docker call). */
  digest(ref: ImageReference): Promise<string | undefined>;
  tag(source: string, target: string): Promise<void>;
}


export function pullDocker(run: RunProcess, env: NodeJS.ProcessEnv): PullDocker {
  const docker = async (args: string[]): Promise<string> => {
    const result = await run({ command: 'docker', args, env });
    if (result.exitCode !== 0) throw new DockerCommandError(args, result.exitCode, failureOutput(result.stdout, result.stderr));
    return result.stdout;
  };
  return {
    async pull(reference, platform) {
      // Not -q: the plain status lines (captured, never printed) end with the digest, which
      // saves an `image inspect` per image. Without a terminal there are no progress bars.
      const stdout = await docker(['pull', ...(platform === undefined ? [] : ['--platform', platform]), reference]);
      return digestFromPullOutput(stdout);
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
