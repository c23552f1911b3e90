/**
 * The order regauth/pull starts its pulls in. Pure.
 *
 * The engine downloads at most 3 layers at a time for all pulls together (dockerd's
 * max-concurrent-downloads), in the order the pulls ask for them. A big layer that is asked for
 * last starts last and ends last, with the other slots idle meanwhile. So, when every image's
 * layers are known: the image that still has the biggest layer to download goes first
 * (longest-processing-time-first, applied to layers), ties broken by the most bytes left.
 * A layer shared by several images is counted once, for the first image that will fetch it;
 * a layer the engine already holds is not counted at all. When any image's layers are
 * unknown, the user's order stands: a plan from part of the facts could be worse than none.
 */

export interface PlannedLayer {
  /** `sha256:…` of the compressed blob, as the manifest names it. */
  digest: string;
  /** Compressed bytes, as the manifest says. */
  size: number;
}

/** What is known about one image before pulling: its platform's layers, or why not. */
export type ImageLayers =
  | {
      known: true;
      layers: readonly PlannedLayer[];
      /** The digests docker records for this image once pulled (the index's and the platform manifest's). */
      manifestDigests?: readonly string[];
    }
  | { known: false; reason: string };

export interface PullSchedule {
  /** Indexes into the images as given, in the order to start them. */
  order: number[];
  /** False: the user's order, because `reason`. */
  planned: boolean;
  reason: string | undefined;
  /** Bytes the engine has to download, shared layers once; undefined when not planned. */
  bytes: number | undefined;
  /** Layers named by more than one image, downloaded once. */
  sharedLayers: number;
  /** Layers left out because the engine holds them. */
  presentLayers: number;
  /** Per image (as given): the bytes it will download itself, in the planned order; undefined when not planned. */
  bytesByImage: (number | undefined)[];
  /**
   * Per image (as given): it has a layer of its own of at least QUEUE_FIRST_BYTES, so the pulls
   * planned after it start once the engine has queued its layers (src/pull/turns.ts).
   */
  queuesFirst: boolean[];
}

/**
 * A layer this big (8 MB: over a second at a CDN's per-connection rate) is worth a head start of
 * one manifest read (a few round trips) to be queued in the engine before the smaller ones.
 */
export const QUEUE_FIRST_BYTES = 8_000_000;

/**
 * `images` in the user's order; `present` the layer digests the engine holds (an image whose
 * manifest digest the engine holds contributes all its layers to it, see presentLayersOf).
 */
export function planPulls(images: readonly ImageLayers[], present: ReadonlySet<string> = new Set()): PullSchedule {
  const userOrder = images.map((_, index) => index);
  const unknown = images.findIndex((image) => !image.known);
  if (images.length === 0 || unknown !== -1) {
    const failed = images[unknown];
    return {
      order: userOrder,
      planned: false,
      reason: failed !== undefined && !failed.known ? failed.reason : 'no images',
      bytes: undefined,
      sharedLayers: 0,
      presentLayers: 0,
      bytesByImage: images.map(() => undefined),
      queuesFirst: images.map(() => false),
    };
  }
  const known = images as readonly Extract<ImageLayers, { known: true }>[];
  const uses = new Map<string, number>();
  for (const image of known) for (const digest of new Set(image.layers.map((layer) => layer.digest))) uses.set(digest, (uses.get(digest) ?? 0) + 1);
  const sharedLayers = [...uses.values()].filter((count) => count > 1).length;
  const presentLayers = [...uses.keys()].filter((digest) => present.has(digest)).length;

  const claimed = new Set<string>(present);
  const remaining = new Set(userOrder);
  const order: number[] = [];
  const bytesByImage: (number | undefined)[] = images.map(() => 0);
  const queuesFirst: boolean[] = images.map(() => false);
  while (remaining.size > 0) {
    let best: { index: number; largest: number; bytes: number } | undefined;
    for (const index of remaining) {
      const work = workLeft(known[index]?.layers ?? [], claimed);
      // Strictly greater: equal work keeps the user's order.
      if (best === undefined || work.largest > best.largest || (work.largest === best.largest && work.bytes > best.bytes)) best = { index, ...work };
    }
    if (best === undefined) break;
    order.push(best.index);
    remaining.delete(best.index);
    bytesByImage[best.index] = best.bytes;
    queuesFirst[best.index] = best.largest >= QUEUE_FIRST_BYTES;
    for (const layer of known[best.index]?.layers ?? []) claimed.add(layer.digest);
  }
  const bytes = bytesByImage.reduce<number>((sum, value) => sum + (value ?? 0), 0);
  return { order, planned: true, reason: undefined, bytes, sharedLayers, presentLayers, bytesByImage, queuesFirst };
}

/** The bytes an image still has to fetch itself, and its biggest such layer. */
function workLeft(layers: readonly PlannedLayer[], claimed: ReadonlySet<string>): { largest: number; bytes: number } {
  let largest = 0;
  let bytes = 0;
  const seen = new Set<string>();
  for (const layer of layers) {
    if (claimed.has(layer.digest) || seen.has(layer.digest)) continue;
    seen.add(layer.digest);
    bytes += layer.size;
    largest = Math.max(largest, layer.size);
  }
  return { largest, bytes };
}

/** Every layer of the images whose manifest digest the engine already holds. Pure. */
export function presentLayersOf(images: readonly ImageLayers[], heldManifests: ReadonlySet<string>): Set<string> {
  const present = new Set<string>();
  for (const image of images) {
    if (!image.known || !(image.manifestDigests ?? []).some((digest) => heldManifests.has(digest))) continue;
    for (const layer of image.layers) present.add(layer.digest);
  }
  return present;
}
