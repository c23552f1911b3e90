import { describe, expect, it } from 'vitest';
import { PROGRESS_TIMING, ProgressBoard, progressTimingFor } from '../../src/pull/progress-board.ts';
import { describeSnapshot, PullProgressParser, terminalText } from '../../src/pull/progress.ts';
import { formatBytes } from '../../src/core/units.ts';
import { fakeClock } from '../support/fake-clock.ts';

/** What docker 28 wrote on a terminal for an 8 MB image (captured from a real pull), in its chunks. */
const TERMINAL_CHUNKS = [
  'v1: Pulling from x/big\r\n\r\n\u001b[1A\u001b[2K\rec6fb08d20d3: Pulling fs layer \r\u001b[1B\r\n\u001b[1A\u001b[2K\ra69c10574699: Pulling fs layer \r\u001b[1B',
  '\u001b[2A\u001b[2K\rec6fb08d20d3: Downloading  36.41kB/1.052MB\r\u001b[2B',
  '\u001b[2A\u001b[2K\rec6fb08d20d3: Downloading  1.052MB/1.052MB\r\u001b[2B\u001b[2A\u001b[2K\rec6fb08d20d3: Verifying Checksum \r\u001b[2B\u001b[2A\u001b[2K\rec6fb08d20d3: Download complete \r\u001b[2B\u001b[2A\u001b[2K\rec6fb08d20d3: Extracting  32.77kB/1.052MB\r\u001b[2B',
  '\u001b[1A\u001b[2K\ra69c10574699: Downloading   98.3kB/8.003MB\r\u001b[1B',
  '\u001b[2A\u001b[2K\rec6fb08d20d3: Pull complete \r\u001b[2B',
  '\u001b[1A\u001b[2K\ra69c10574699: ',
  'Downloading  4.003MB/8.003MB\r\u001b[1B',
  '\u001b[1A\u001b[2K\ra69c10574699: Verifying Checksum \r\u001b[1B\u001b[1A\u001b[2K\ra69c10574699: Download complete \r\u001b[1B',
  '\u001b[1A\u001b[2K\ra69c10574699: Pull complete \r\u001b[1B',
  'Digest: sha256:ffd8ed7908de14ed952cfcc09113a593e773f79bd32cec0e61fbf4d49486e3d4\r\n',
  'Status: Downloaded newer image for 127.0.0.1:35625/x/big:v1\r\n127.0.0.1:35625/x/big:v1\r\n',
];

describe('PullProgressParser', () => {
  it('follows a terminal pull: layers only go up, bytes where docker printed them, the digest at the end', () => {
    const parser = new PullProgressParser();
    const seen = TERMINAL_CHUNKS.map((chunk) => {
      parser.feed(chunk);
      return parser.snapshot();
    });
    expect(seen.map((s) => `${s.layersDone}/${s.layersTotal}`)).toEqual(['0/2', '0/2', '0/2', '0/2', '1/2', '1/2', '1/2', '1/2', '2/2', '2/2', '2/2']);
    expect(seen[3]).toMatchObject({ bytesDone: 1_052_000 + 98_300, bytesTotal: 1_052_000 + 8_003_000 });
    expect(seen[6]).toMatchObject({ bytesDone: 1_052_000 + 4_003_000 });
    expect(seen.at(-1)).toMatchObject({ bytesDone: 9_055_000, bytesTotal: 9_055_000, upToDate: false, digest: 'sha256:ffd8ed7908de14ed952cfcc09113a593e773f79bd32cec0e61fbf4d49486e3d4' });
    expect(describeSnapshot(seen[3]!)).toBe('0 of 2 layers, 1.15 MB of 9.05 MB');
  });

  it('counts layers without bytes from plain (non-terminal) output, and already-held layers as done', () => {
    const parser = new PullProgressParser();
    parser.feed('16: Pulling from library/postgres\nabc123abc123: Already exists\ndef456def456: Pulling fs layer\n');
    expect(parser.snapshot()).toMatchObject({ layersDone: 1, layersTotal: 2, bytesDone: undefined, bytesTotal: undefined });
    expect(describeSnapshot(parser.snapshot())).toBe('1 of 2 layers');
    parser.feed('def456def456: Download complete\ndef456def456: Pull complete\n');
    expect(parser.snapshot()).toMatchObject({ layersDone: 2, layersTotal: 2 });
  });

  it('notices a no-op pull', () => {
    const parser = new PullProgressParser();
    parser.feed(`v1: Pulling from x/big\r\nDigest: sha256:${'a'.repeat(64)}\r\nStatus: Image is up to date for r/x/big:v1\r\n`);
    expect(parser.snapshot()).toMatchObject({ upToDate: true, layersTotal: 0, digest: `sha256:${'a'.repeat(64)}` });
    expect(describeSnapshot(parser.snapshot())).toBe('resolving the manifest');
  });

  it("reads docker's error on a terminal as the terminal shows it", () => {
    const raw = '\u001b[1A\u001b[2K\rabc123abc123: Downloading  1MB/2MB\r\u001b[1B\rError response from daemon: unexpected EOF\r\n';
    expect(terminalText(raw)).toBe('Error response from daemon: unexpected EOF\n');
  });

  it('formats bytes in decimal units, as docker does', () => {
    expect([999, 1000, 45_200_000, 3_400_000_000].map(formatBytes)).toEqual(['999 B', '1.00 kB', '45.2 MB', '3.40 GB']);
  });
});

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

describe('downloaded: only unpacking is left', () => {
  it('turns true once every layer docker named is downloaded or held, not before', () => {
    const parser = new PullProgressParser();
    expect(parser.snapshot().downloaded).toBe(false);
    parser.feed('aaaaaaaaaaaa: Pulling fs layer\nbbbbbbbbbbbb: Pulling fs layer\ncccccccccccc: Already exists\n');
    expect(parser.snapshot().downloaded).toBe(false);
    parser.feed('aaaaaaaaaaaa: Downloading  1.2MB/4MB\rbbbbbbbbbbbb: Download complete\n');
    expect(parser.snapshot().downloaded).toBe(false);
    parser.feed('aaaaaaaaaaaa: Verifying Checksum\naaaaaaaaaaaa: Download complete\naaaaaaaaaaaa: Extracting  1MB/4MB\n');
    expect(parser.snapshot().downloaded).toBe(true);
  });
});
