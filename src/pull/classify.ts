import { dockerErrorLine } from '../docker/error.ts';
import { classifyDockerOutput, MACHINE_HINT, statedWaitMs, type CommandFailure, type DockerFailureCategory, type DockerVerdict } from '../docker/classify.ts';
import { ProcessStartError } from '../core/process.ts';
import { PullStalled } from './stall.ts';

/**
 * Decides from docker's own words whether a failed pull is worth another attempt. Pure. The
 * wording itself is read by src/docker/classify.ts, which docker login shares; what is pull's
 * own is the default: unrecognised wording gets one more try.
 */
export type PullCategory = DockerFailureCategory;
export type PullVerdict = DockerVerdict;
export type { CommandFailure };
export { statedWaitMs };

export function classifyFailure(failure: CommandFailure): PullVerdict {
  const known = classifyDockerOutput(failure);
  if (known) return known;
  const detail = dockerErrorLine(failure.output);
  if (failure.exitCode >= 128) {
    return { kind: 'transient', reason: `docker was stopped by a signal (exit ${failure.exitCode})`, category: 'unknown', detail };
  }
  // Unrecognised wording: one more try is cheaper than a failed build.
  return { kind: 'transient', reason: 'docker failed for an unrecognised reason', category: 'unknown', detail };
}

/** For withRetry: anything a docker call can throw. */
export function classifyPullError(error: unknown): PullVerdict {
  if (error instanceof ProcessStartError) {
    return { kind: 'permanent', reason: `${error.message} — ${MACHINE_HINT}`, category: 'engine', detail: error.message };
  }
  if (isCommandFailure(error)) return classifyFailure(error);
  // A stalled transfer is the network's fault as far as anyone can tell: worth another attempt.
  if (error instanceof PullStalled) return { kind: 'transient', reason: error.message, category: 'network', detail: '' };
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'permanent', reason: `internal error: ${message}`, category: 'unknown', detail: message };
}

export function isCommandFailure(error: unknown): error is CommandFailure {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { exitCode?: unknown }).exitCode === 'number' &&
    typeof (error as { output?: unknown }).output === 'string'
  );
}
