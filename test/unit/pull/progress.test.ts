import { describe, expect, it } from 'vitest';
import { describeSnapshot, PullProgressParser, terminalText } from '../../../src/pull/progress.ts';
import { formatBytes } from '../../../src/core/units.ts';

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

  it('is not true on a held layer alone: docker may not have named the others yet', () => {
    const parser = new PullProgressParser();
    parser.feed('cccccccccccc: Already exists\n');
    expect(parser.snapshot().downloaded).toBe(false);
    parser.feed('aaaaaaaaaaaa: Pulling fs layer\n');
    expect(parser.snapshot().downloaded).toBe(false);
    parser.feed('aaaaaaaaaaaa: Download complete\n');
    expect(parser.snapshot().downloaded).toBe(true);
  });
});
