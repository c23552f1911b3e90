import { formatDuration } from '../core/units.ts';
import { isDockerHub, mirrorReference, ReferenceFormatError, type ImageReference } from '../registry/reference.ts';
import { RetriesExhausted, withRetry, type RetryDeps, type RetryPolicy } from '../core/retry.ts';
import { classifyPullError, type PullVerdict } from './classify.ts';
import type { PullDocker } from './docker-pull.ts';
import { mapWithConcurrency } from './pool.ts';
import type { ProgressBoard } from './progress-board.ts';
import type { PullSnapshot } from './progress.ts';
import { inTurn } from './turns.ts';
import { mirrorFailurePhrase, progressLine, type PullFailure, type PullOutcome, type PullSource, type PullSuccess } from './summary.ts';
import type { WaitProbe } from './wait-probe.ts';

/**
 * Pulls every image with bounded concurrency, retrying transient failures, trying the mirror
 * first for Docker Hub images. Never throws for a failed image: each one becomes an outcome.
 */
export interface PullPlan {
  images: readonly ImageReference[];
  concurrency: number;
  maxAttempts: number;
  platform: string | undefined;
  mirror: string | undefined;
}

export interface PullRunDeps {
  docker: PullDocker;
  /** Milliseconds, for the seconds column. */
  now: () => number;
  retry: RetryDeps;
  report: (line: string) => void;
  /** Asks the registry how long to wait after a 429/503 (docker does not say); none: backoff only. */
  probeWait?: WaitProbe;
  /** Hears each image's progress and prints it while pulls run; none: silent until each ends. */
  progress?: ProgressBoard;
  /** Called once the images already present are known, with those that will be pulled, before any pull. */
  beforePulls?: (toPull: readonly ImageReference[]) => Promise<void>;
  /** The order to start the pulls in (see plan.ts); runs after beforePulls. None: the order given. */
  schedule?: (toPull: readonly ImageReference[]) => Promise<StartOrder>;
  /** Hears, per layer id, the bytes docker said it downloaded (shared layers under one id). */
  layerBytes?: Map<string, number>;
}

export interface StartOrder {
  /** Indexes into `toPull`; anything but a permutation: the order given. */
  order: readonly number[];
  /** Per index into `toPull`: later pulls wait until this image's layers are queued (turns.ts). */
  queuesFirst?: readonly boolean[];
}

export const PULL_BACKOFF = { baseDelayMs: 1000, maxDelayMs: 20_000, maxServerWaitMs: 60_000 } as const;

/**
 * A mirror gets at most this many attempts for transient failures before Docker Hub is tried:
 * Docker Hub is a working source, so there is no point spending the whole budget on the mirror.
 */
export const MIRROR_MAX_ATTEMPTS = 2;

export async function runPulls(plan: PullPlan, deps: PullRunDeps): Promise<PullOutcome[]> {
  // Once the mirror has failed transiently through all its attempts, later images skip it.
  const mirror = { prefix: plan.mirror, down: false };
  const present = await mapWithConcurrency(plan.images, plan.concurrency, (ref) => presentOutcome(ref, plan.platform, deps));
  const toPull = plan.images.map((ref, index) => ({ ref, index })).filter(({ index }) => present[index] === undefined);
  // One after the other, so their lines come in a fixed order; a step with Docker Hub images
  // (the only ones beforePulls reads for) has no plan to read.
  await deps.beforePulls?.(toPull.map(({ ref }) => ref));
  const order = await scheduled(toPull, deps);
  for (const outcome of present) if (outcome !== undefined) deps.report(progressLine(outcome));
  const outcomes: PullOutcome[] = present.map((outcome) => outcome as PullOutcome);
  const stopProgress = deps.progress?.start();
  try {
    // A pull that has downloaded every layer and only unpacks gives its slot to the next one:
    // `concurrency` bounds the pulls using the network, so the engine's download slots stay busy.
    const takeTurn = inTurn();
    await mapWithConcurrency(order, plan.concurrency, async ({ ref, index, queuesFirst }, _position, release) => {
      const turn = await takeTurn(queuesFirst);
      const outcome = await trackedPull(ref, plan, deps, mirror, release, turn.queued).finally(turn.queued);
      deps.report(progressLine(outcome));
      outcomes[index] = outcome;
    });
  } finally {
    stopProgress?.();
  }
  return withSizes(outcomes, deps.docker);
}

/** toPull in the schedule's order, each with its mark; the given order (no marks) when there is none or it is not a permutation. */
async function scheduled<T extends { ref: ImageReference }>(toPull: readonly T[], deps: PullRunDeps): Promise<readonly (T & { queuesFirst: boolean })[]> {
  const given = toPull.map((item) => ({ ...item, queuesFirst: false }));
  if (deps.schedule === undefined || toPull.length < 2) return given;
  let start: StartOrder;
  try {
    start = await deps.schedule(toPull.map((item) => item.ref));
  } catch {
    return given;
  }
  const { order } = start;
  const valid = order.length === toPull.length && new Set(order).size === toPull.length && order.every((index) => Number.isInteger(index) && index >= 0 && index < toPull.length);
  return valid ? order.map((index) => ({ ...(toPull[index] as T), queuesFirst: start.queuesFirst?.[index] === true })) : given;
}

/** The size column for what was pulled, from one `image inspect`; a failure only leaves it empty. */
async function withSizes(outcomes: PullOutcome[], docker: PullDocker): Promise<PullOutcome[]> {
  const pulled = outcomes.filter((o): o is PullSuccess => o.ok && o.source !== 'present');
  const sizes = await docker.sizes(pulled.map((o) => o.image)).catch(() => pulled.map(() => undefined));
  const byImage = new Map(pulled.map((o, index) => [o.image, sizes[index]]));
  return outcomes.map((o) => (o.ok && byImage.has(o.image) ? { ...o, sizeBytes: byImage.get(o.image) } : o));
}

/**
 * An image pinned by digest that the engine holds is that image, byte for byte: no registry
 * request at all. A tag can move, so tags are always pulled.
 */
async function presentOutcome(ref: ImageReference, platform: string | undefined, deps: PullRunDeps): Promise<PullOutcome | undefined> {
  if (ref.digest === undefined) return undefined;
  const started = deps.now();
  let held;
  try {
    held = await deps.docker.held(ref.normalized);
  } catch {
    // The engine could not say: the pull will, with docker's own words.
    return undefined;
  }
  if (held === undefined) return undefined;
  // A digest of a multi-platform index the engine holds for another platform: pull the one asked for.
  if (platform !== undefined && !samePlatform(held.platform, platform)) return undefined;
  return { ok: true, image: ref.normalized, digest: ref.digest, seconds: (deps.now() - started) / 1000, attempts: 0, source: 'present', note: undefined, sizeBytes: held.sizeBytes, upToDate: true };
}

/** `linux/arm64` matches `linux/arm64/v8` as docker matches them; an unknown platform never matches. Pure. */
export function samePlatform(held: string | undefined, wanted: string): boolean {
  if (held === undefined) return false;
  const [os, arch, variant] = wanted.split('/');
  const [heldOs, heldArch, heldVariant] = held.split('/');
  return os === heldOs && arch === heldArch && (variant === undefined || variant === heldVariant);
}

async function trackedPull(ref: ImageReference, plan: PullPlan, deps: PullRunDeps, mirror: MirrorState, release: () => void = () => undefined, queued: () => void = () => undefined): Promise<PullOutcome> {
  const tracker = deps.progress?.track(ref.normalized);
  const watch = (snapshot: PullSnapshot): void => {
    tracker?.update(snapshot);
    // docker names the layers once the engine has queued them: the next pull may start.
    if (snapshot.layersTotal > 0) queued();
    if (snapshot.downloaded) release();
    if (deps.layerBytes !== undefined) for (const [id, bytes] of snapshot.layerBytes) deps.layerBytes.set(id, bytes);
  };
  try {
    return await pullImage(ref, plan, { ...deps, watch }, mirror);
  } finally {
    tracker?.finish();
  }
}

type ImageDeps = PullRunDeps & { watch: (snapshot: PullSnapshot) => void };

interface MirrorState {
  prefix: string | undefined;
  down: boolean;
}

async function pullImage(ref: ImageReference, plan: PullPlan, deps: ImageDeps, mirror: MirrorState): Promise<PullOutcome> {
  const started = deps.now();
  const seconds = () => (deps.now() - started) / 1000;
  let attempts = 0;
  let source: PullSource = 'registry';
  let note: string | undefined;
  let mirrorFailure: string | undefined;

  const route = mirrorRoute(ref, mirror);
  if (route.kind === 'skip') note = route.note;
  if (route.kind === 'mirror') {
    const result = await pullWithRetry(route.ref, Math.min(plan.maxAttempts, MIRROR_MAX_ATTEMPTS), plan, deps);
    attempts += result.attempts;
    if (result.ok) {
      const target = `${ref.domain}/${ref.path}:${ref.tag ?? 'latest'}`;
      try {
        await deps.docker.tag(route.ref.normalized, target);
      } catch (error) {
        const verdict = classifyPullError(error);
        return failure(ref, seconds(), attempts, { ...verdict, reason: `pulled from the mirror as ${route.ref.normalized} but could not tag it as ${target}` });
      }
      return success(ref, deps, seconds, attempts, 'mirror', undefined, result);
    }
    if (result.verdict.category === 'engine') return failure(ref, seconds(), attempts, result.verdict);
    if (result.verdict.kind === 'transient' && !mirror.down) {
      mirror.down = true;
      deps.report(`mirror ${mirror.prefix ?? ''} is failing (${result.verdict.reason}); the remaining Docker Hub images go straight to Docker Hub`);
    }
    deps.report(`↷ ${ref.normalized}: the mirror could not serve ${route.ref.normalized} (${result.verdict.reason}); pulling from Docker Hub`);
    source = 'fallback';
    mirrorFailure = mirrorFailurePhrase(result.verdict);
  }

  const result = await pullWithRetry(ref, plan.maxAttempts, plan, deps);
  attempts += result.attempts;
  if (!result.ok) return failure(ref, seconds(), attempts, result.verdict, mirrorFailure);
  return success(ref, deps, seconds, attempts, source, note, result);
}

type Route = { kind: 'direct' } | { kind: 'skip'; note: string } | { kind: 'mirror'; ref: ImageReference };

function mirrorRoute(ref: ImageReference, mirror: MirrorState): Route {
  if (mirror.prefix === undefined || !isDockerHub(ref) || mirror.down) return { kind: 'direct' };
  // docker cannot tag a digest reference, so a mirrored copy would not answer to the name asked for.
  if (ref.tag === undefined) return { kind: 'skip', note: 'pinned by digest only, so pulled from Docker Hub: a mirrored copy could not be tagged with this name' };
  try {
    return { kind: 'mirror', ref: mirrorReference(ref, mirror.prefix) };
  } catch (error) {
    if (error instanceof ReferenceFormatError) return { kind: 'skip', note: `not mirrored: ${error.reason}` };
    throw error;
  }
}

type AttemptResult = { ok: true; attempts: number; digest: string | undefined; upToDate: boolean } | { ok: false; attempts: number; verdict: PullVerdict };

/** A failed attempt together with the wait the registry asked for when regauth asked it. */
class RegistryStatedWait {
  constructor(
    readonly error: unknown,
    readonly retryAfterMs: number,
  ) {}
}

function classifyAttempt(error: unknown): PullVerdict {
  if (!(error instanceof RegistryStatedWait)) return classifyPullError(error);
  const verdict = classifyPullError(error.error);
  return verdict.kind === 'transient' ? { ...verdict, retryAfterMs: error.retryAfterMs } : verdict;
}

/** Worth asking the registry for its Retry-After: it refused with 429/5xx and docker quoted no wait. */
function shouldProbe(verdict: PullVerdict): boolean {
  return verdict.kind === 'transient' && verdict.retryAfterMs === undefined && (verdict.category === 'rate-limit' || verdict.category === 'server');
}

async function pullWithRetry(ref: ImageReference, maxAttempts: number, plan: PullPlan, deps: ImageDeps): Promise<AttemptResult> {
  const policy: RetryPolicy = { ...PULL_BACKOFF, maxAttempts };
  const reference = ref.normalized;
  let upToDate = false;
  const watch = (snapshot: PullSnapshot): void => {
    upToDate = snapshot.upToDate;
    deps.watch(snapshot);
  };
  const attempt = async (number: number): Promise<string | undefined> => {
    try {
      return await deps.docker.pull(reference, plan.platform, watch);
    } catch (error) {
      // At most one probe per retry, and none after the last attempt.
      if (deps.probeWait === undefined || number >= maxAttempts || !shouldProbe(classifyPullError(error))) throw error;
      const waitMs = await deps.probeWait(ref).catch(() => undefined);
      throw waitMs === undefined ? error : new RegistryStatedWait(error, waitMs);
    }
  };
  try {
    const { value: digest, attempts } = await withRetry(attempt, classifyAttempt, policy, deps.retry, (number, verdict, delayMs) => {
      deps.report(`… ${reference}: attempt ${number} of ${maxAttempts} failed (${verdict.reason})${statedWaitNote(verdict.kind === 'transient' ? verdict.retryAfterMs : undefined)}; retrying in ${formatDuration(delayMs)}`);
    });
    return { ok: true, attempts, digest, upToDate };
  } catch (error) {
    if (error instanceof RetriesExhausted) return { ok: false, attempts: error.attempts, verdict: error.verdict as PullVerdict };
    throw error;
  }
}

function statedWaitNote(retryAfterMs: number | undefined): string {
  if (retryAfterMs === undefined) return '';
  const cap = retryAfterMs > PULL_BACKOFF.maxServerWaitMs ? ` (regauth waits at most ${PULL_BACKOFF.maxServerWaitMs / 1000} s)` : '';
  return `; the registry asked to wait ${Number((retryAfterMs / 1000).toFixed(1))} s${cap}`;
}

async function success(
  ref: ImageReference,
  deps: PullRunDeps,
  seconds: () => number,
  attempts: number,
  source: PullSource,
  note: string | undefined,
  pulled: { digest: string | undefined; upToDate: boolean },
): Promise<PullOutcome> {
  let digest = ref.digest ?? pulled.digest;
  if (digest === undefined) {
    try {
      // docker printed no digest: ask it once more.
      digest = await deps.docker.digest(ref);
    } catch {
      // The image is there; only the digest column stays empty.
      digest = undefined;
    }
  }
  return { ok: true, image: ref.normalized, digest, seconds: seconds(), attempts, source, note, ...(pulled.upToDate ? { upToDate: true } : {}) };
}

function failure(ref: ImageReference, seconds: number, attempts: number, verdict: PullVerdict, mirror?: string): PullFailure {
  return {
    ok: false,
    image: ref.normalized,
    seconds,
    attempts,
    reason: verdict.reason,
    category: verdict.category,
    detail: verdict.detail,
    ...(mirror === undefined ? {} : { mirror }),
  };
}
