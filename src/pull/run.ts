import { isDockerHub, mirrorReference, ReferenceFormatError, type ImageReference } from '../reference.ts';
import { RetriesExhausted, withRetry, type RetryDeps, type RetryPolicy } from '../retry.ts';
import { classifyPullError, type PullVerdict } from './classify.ts';
import type { PullDocker } from './docker.ts';
import { mapWithConcurrency } from './pool.ts';
import { progressLine, type PullFailure, type PullOutcome, type PullSource } from './summary.ts';

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
  return mapWithConcurrency(plan.images, plan.concurrency, async (ref) => {
    const outcome = await pullImage(ref, plan, deps, mirror);
    deps.report(progressLine(outcome));
    return outcome;
  });
}

interface MirrorState {
  prefix: string | undefined;
  down: boolean;
}

async function pullImage(ref: ImageReference, plan: PullPlan, deps: PullRunDeps, mirror: MirrorState): Promise<PullOutcome> {
  const started = deps.now();
  const seconds = () => (deps.now() - started) / 1000;
  let attempts = 0;
  let source: PullSource = 'registry';
  let note: string | undefined;

  const route = mirrorRoute(ref, mirror);
  if (route.kind === 'skip') note = route.note;
  if (route.kind === 'mirror') {
    const result = await pullWithRetry(route.ref.normalized, Math.min(plan.maxAttempts, MIRROR_MAX_ATTEMPTS), plan, deps);
    attempts += result.attempts;
    if (result.ok) {
      const target = `${ref.domain}/${ref.path}:${ref.tag ?? 'latest'}`;
      try {
        await deps.docker.tag(route.ref.normalized, target);
      } catch (error) {
        const verdict = classifyPullError(error);
        return failure(ref, seconds(), attempts, { ...verdict, reason: `pulled from the mirror as ${route.ref.normalized} but could not tag it as ${target}` });
      }
      return success(ref, deps, seconds, attempts, 'mirror', undefined);
    }
    if (result.verdict.category === 'engine') return failure(ref, seconds(), attempts, result.verdict);
    if (result.verdict.kind === 'transient' && !mirror.down) {
      mirror.down = true;
      deps.report(`mirror ${mirror.prefix ?? ''} is failing (${result.verdict.reason}); the remaining Docker Hub images go straight to Docker Hub`);
    }
    deps.report(`↷ ${ref.normalized}: the mirror could not serve ${route.ref.normalized} (${result.verdict.reason}); pulling from Docker Hub`);
    source = 'fallback';
  }

  const result = await pullWithRetry(ref.normalized, plan.maxAttempts, plan, deps);
  attempts += result.attempts;
  if (!result.ok) return failure(ref, seconds(), attempts, result.verdict);
  return success(ref, deps, seconds, attempts, source, note);
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

type AttemptResult = { ok: true; attempts: number } | { ok: false; attempts: number; verdict: PullVerdict };

async function pullWithRetry(reference: string, maxAttempts: number, plan: PullPlan, deps: PullRunDeps): Promise<AttemptResult> {
  const policy: RetryPolicy = { ...PULL_BACKOFF, maxAttempts };
  try {
    const { attempts } = await withRetry(
      () => deps.docker.pull(reference, plan.platform),
      classifyPullError,
      policy,
      deps.retry,
      (attempt, verdict, delayMs) => {
        deps.report(`… ${reference}: attempt ${attempt} of ${maxAttempts} failed (${verdict.reason}); retrying in ${(delayMs / 1000).toFixed(1)} s`);
      },
    );
    return { ok: true, attempts };
  } catch (error) {
    if (error instanceof RetriesExhausted) return { ok: false, attempts: error.attempts, verdict: error.verdict as PullVerdict };
    throw error;
  }
}

async function success(
  ref: ImageReference,
  deps: PullRunDeps,
  seconds: () => number,
  attempts: number,
  source: PullSource,
  note: string | undefined,
): Promise<PullOutcome> {
  let digest: string | undefined;
  try {
    digest = await deps.docker.digest(ref);
  } catch {
    // The image is there; only the digest column stays empty.
    digest = undefined;
  }
  return { ok: true, image: ref.normalized, digest, seconds: seconds(), attempts, source, note };
}

function failure(ref: ImageReference, seconds: number, attempts: number, verdict: PullVerdict): PullFailure {
  return { ok: false, image: ref.normalized, seconds, attempts, reason: verdict.reason, category: verdict.category, detail: verdict.detail };
}
