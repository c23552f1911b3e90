import { describe, expect, it } from 'vitest';
import { PROGRESS_TIMING, ProgressBoard, progressTimingFor } from '../../../src/pull/progress-board.ts';
import { fakeClock } from '../../support/fake-clock.ts';

describe('ProgressBoard', () => {
  const snapshot = (layersDone: number, bytesDone?: number) => ({ layersTotal: 3, layersDone, bytesDone, bytesTotal: bytesDone === undefined ? undefined : 30e6, upToDate: false, digest: undefined, layerBytes: new Map<string, number>(), downloaded: false });

  it('prints a changed line at most every 10 s and an unchanged one exactly every 20 s, for images still pulling', () => {
    const clock = fakeClock();
    const lines: { at: number; line: string }[] = [];
    const board = new ProgressBoard(clock, (line) => lines.push({ at: clock.now(), line }));
    const stop = board.start();
    const a = board.track('r/a:v1');
    const b = board.track('r/b:v1');
    a.update(snapshot(0, 1e6));
    clock.advance(5_000);
    a.update(snapshot(1, 12e6));
    clock.advance(60_000);
    b.finish();
    clock.advance(30_000);
    a.finish();
    clock.advance(60_000);
    stop();
    expect(clock.timers).toBe(0);
    const forA = lines.filter((l) => l.line.includes('r/a:v1'));
    const forB = lines.filter((l) => l.line.includes('r/b:v1'));
    expect(forA.map((l) => l.at)).toEqual([10_000, 30_000, 50_000, 70_000, 90_000]);
    expect(forA[0]?.line).toBe('⋯ r/a:v1: 1 of 3 layers, 12.0 MB of 30.0 MB (10 s)');
    expect(forA[1]?.line).toBe('⋯ r/a:v1: 1 of 3 layers, 12.0 MB of 30.0 MB (30 s)');
    expect(forB.map((l) => [l.at, l.line])).toEqual([
      [10_000, '⋯ r/b:v1: contacting the registry (10 s)'],
      [30_000, '⋯ r/b:v1: contacting the registry (30 s)'],
      [50_000, '⋯ r/b:v1: contacting the registry (50 s)'],
    ]);
    // Nothing after both finished.
    expect(lines.every((l) => l.at <= 95_000)).toBe(true);
  });

  it('prints a changing image again 10 s after its last line, not sooner', () => {
    const clock = fakeClock();
    const lines: number[] = [];
    const board = new ProgressBoard(clock, () => lines.push(clock.now()));
    board.start();
    const a = board.track('r/a:v1');
    for (let second = 1; second <= 35; second++) {
      a.update(snapshot(0, second * 1e6));
      clock.advance(1_000);
    }
    expect(lines).toEqual([10_000, 20_000, 30_000]);
  });
});

describe('progressTimingFor', () => {
  it('keeps 20 s heartbeats unless no_output_timeout would end the step first', () => {
    expect(progressTimingFor(600_000)).toBe(PROGRESS_TIMING);
    expect(progressTimingFor(25_000)).toBe(PROGRESS_TIMING);
    expect(progressTimingFor(15_000)).toEqual({ tickMs: 500, changedGapMs: 7_500, heartbeatMs: 7_500 });
    expect(progressTimingFor(1_000)).toEqual({ tickMs: 250, changedGapMs: 1_000, heartbeatMs: 1_000 });
  });
});
