/**
 * What one `docker pull` has done so far, read from its own output. Pure.
 *
 * docker writes a status line per layer (`<id>: Pulling fs layer`, `Download complete`,
 * `Pull complete`, `Already exists`) and, on a terminal, byte counts (`<id>: Downloading
 * 12.3MB/40MB`) redrawn in place with cursor movements. Without a terminal it drops the byte
 * counts, so bytes are shown only when docker printed them.
 */
import { formatBytes } from '../core/units.ts';

export interface PullSnapshot {
  /** Layers docker has named so far; 0 until the manifest is read. */
  layersTotal: number;
  /** Pulled, or already held by the engine. */
  layersDone: number;
  /** Bytes downloaded of the layers docker gave a size for; undefined when it gave none. */
  bytesDone: number | undefined;
  bytesTotal: number | undefined;
  /** docker said `Image is up to date`: the pull changed nothing. */
  upToDate: boolean;
  /** docker's `Digest: sha256:…` line. */
  digest: string | undefined;
  /**
   * Per layer id (12 hex), the size docker gave while downloading it: what this pull fetched.
   * A layer another pull fetched shows up in both; callers count ids once.
   */
  layerBytes: ReadonlyMap<string, number>;
  /** Every layer docker named is downloaded (or was held): what is left is unpacking. */
  downloaded: boolean;
}

type LayerState = 'waiting' | 'downloading' | 'downloaded' | 'extracting' | 'done';

interface Layer {
  state: LayerState;
  current: number | undefined;
  total: number | undefined;
}

// eslint-disable-next-line no-control-regex -- terminal escape sequences are what this removes
const ESCAPES = /\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Za-z0-9]|\u001b[=>78]/g;
const LAYER_LINE = /^([a-f0-9]{12,64}): (.+?)\s*$/;
const SIZE = /([\d.]+)\s*(B|kB|KB|MB|GB|TB|PB)\b/g;
const UNIT: Readonly<Record<string, number>> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15 };

export class PullProgressParser {
  private readonly layers = new Map<string, Layer>();
  private pending = '';
  private upToDate = false;
  private digest: string | undefined;
  /**
   * docker names every layer in one burst before any finishes, but the burst may reach us split:
   * only a layer that finished downloading proves the list is whole (an `Already exists` alone
   * does not), so `downloaded` waits for one.
   */
  private layerListWhole = false;

  /** Feeds a chunk of docker's output (stdout or stderr, any split). */
  feed(chunk: string): void {
    const text = this.pending + chunk;
    // A terminal redraws a line with \r; each piece between line ends is one status.
    const pieces = text.split(/\r\n|\r|\n/);
    this.pending = pieces.pop() ?? '';
    for (const piece of pieces) this.line(piece);
  }

  snapshot(): PullSnapshot {
    if (this.pending !== '') {
      // A status without its line end yet still counts (docker ends terminal lines late).
      const rest = this.pending;
      this.pending = '';
      this.line(rest);
      this.pending = rest;
    }
    let layersDone = 0;
    let bytesDone = 0;
    let bytesTotal = 0;
    let sized = false;
    const layerBytes = new Map<string, number>();
    for (const [id, layer] of this.layers) {
      if (layer.total !== undefined) layerBytes.set(id, layer.total);
      if (layer.state === 'done') layersDone++;
      if (layer.total === undefined) continue;
      sized = true;
      bytesTotal += layer.total;
      bytesDone += layer.state === 'downloading' ? Math.min(layer.current ?? 0, layer.total) : layer.state === 'waiting' ? 0 : layer.total;
    }
    return {
      layersTotal: this.layers.size,
      layersDone,
      bytesDone: sized ? bytesDone : undefined,
      bytesTotal: sized ? bytesTotal : undefined,
      upToDate: this.upToDate,
      digest: this.digest,
      layerBytes,
      downloaded: this.layerListWhole && [...this.layers.values()].every((layer) => layer.state !== 'waiting' && layer.state !== 'downloading'),
    };
  }

  private line(raw: string): void {
    const line = raw.replace(ESCAPES, '').trim();
    if (line === '') return;
    const digest = /^Digest: (sha256:[a-f0-9]{64})$/.exec(line);
    if (digest?.[1]) this.digest = digest[1];
    if (/^Status: Image is up to date for /.test(line)) this.upToDate = true;
    const match = LAYER_LINE.exec(line);
    if (!match?.[1] || !match[2]) return;
    const id = match[1].slice(0, 12);
    const status = match[2];
    const layer = this.layers.get(id) ?? { state: 'waiting', current: undefined, total: undefined };
    this.layers.set(id, layer);
    if (/^(?:Download complete|Verifying Checksum|Extracting|Pull complete)\b/.test(status)) this.layerListWhole = true;
    if (/^(?:Pull complete|Already exists)\b/.test(status)) layer.state = 'done';
    else if (/^(?:Download complete|Verifying Checksum)\b/.test(status)) layer.state = layer.state === 'done' ? 'done' : 'downloaded';
    else if (/^Extracting\b/.test(status)) layer.state = layer.state === 'done' ? 'done' : 'extracting';
    else if (/^Downloading\b/.test(status)) {
      const sizes = [...status.matchAll(SIZE)].map(([, amount, unit]) => Number(amount) * (UNIT[unit ?? 'B'] ?? 1));
      if (sizes.length >= 2 && sizes.every(Number.isFinite)) {
        layer.current = sizes[0];
        layer.total = sizes[1];
      }
      if (layer.state === 'waiting') layer.state = 'downloading';
    }
  }
}

/**
 * What a terminal would show of docker's output, line by line: escape sequences removed, and
 * of a line redrawn with \r only its last drawing. For docker's error text. Pure.
 */
export function terminalText(text: string): string {
  return text
    .replace(ESCAPES, '')
    .split('\n')
    .map((line) => {
      const drawn = line.replace(/\r+$/, '');
      return drawn.slice(drawn.lastIndexOf('\r') + 1);
    })
    .join('\n');
}

/** The part of a progress line after the image name. Pure. */
export function describeSnapshot(snapshot: PullSnapshot): string {
  if (snapshot.layersTotal === 0) return 'resolving the manifest';
  const layers = `${snapshot.layersDone} of ${snapshot.layersTotal} layers`;
  if (snapshot.bytesDone === undefined || snapshot.bytesTotal === undefined) return layers;
  return `${layers}, ${formatBytes(snapshot.bytesDone)} of ${formatBytes(snapshot.bytesTotal)}`;
}
