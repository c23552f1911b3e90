import { describe, expect, it } from 'vitest';
import { planPulls, presentLayersOf, type ImageLayers } from '../../../src/pull/plan.ts';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const image = (...layers: [number, number][]): ImageLayers => ({ known: true, layers: layers.map(([id, size]) => ({ digest: d(id), size })) });
const MB = 1_000_000;

describe('planPulls', () => {
  it('starts the image with the biggest layer first, then by bytes left; equal work keeps the given order', () => {
    const plan = planPulls([image([1, 1 * MB]), image([2, 3 * MB]), image([3, 1 * MB]), image([4, 48 * MB], [5, 1 * MB])]);
    expect(plan.planned).toBe(true);
    expect(plan.order).toEqual([3, 1, 0, 2]);
    expect(plan.bytes).toBe(54 * MB);
  });

  it('marks the images with a layer of their own of 8 MB or more: the pulls after them wait for their layers to be queued', () => {
    const base: [number, number] = [100, 30 * MB];
    // b fetches the 30 MB base; c shares it, so c's own work is 2 MB: it does not hold anyone up.
    const plan = planPulls([image([1, 8 * MB]), image(base, [2, 5 * MB]), image(base, [3, 2 * MB]), image([4, 8 * MB - 1])]);
    expect(plan.queuesFirst).toEqual([true, true, false, false]);
    expect(planPulls([image([1, 48 * MB]), { known: false, reason: 'no manifest' }]).queuesFirst).toEqual([false, false]);
  });

  it('counts a shared layer once, for the first image that fetches it', () => {
    const base: [number, number] = [100, 30 * MB];
    // b and c share a 30 MB base; a has one 20 MB layer. After b claims the base, c has 2 MB left.
    const plan = planPulls([image([1, 20 * MB]), image(base, [2, 5 * MB]), image(base, [3, 2 * MB])]);
    expect(plan.order).toEqual([1, 0, 2]);
    expect(plan.sharedLayers).toBe(1);
    expect(plan.bytes).toBe(57 * MB);
    expect(plan.bytesByImage).toEqual([20 * MB, 35 * MB, 2 * MB]);
  });

  it('leaves out layers the engine holds, so an image whose big layer is present goes last', () => {
    const plan = planPulls([image([1, 5 * MB]), image([2, 40 * MB], [3, 1 * MB])], new Set([d(2)]));
    expect(plan.order).toEqual([0, 1]);
    expect(plan.bytes).toBe(6 * MB);
    expect(plan.presentLayers).toBe(1);
  });

  it('keeps the user order, unplanned, when any manifest is missing', () => {
    const plan = planPulls([image([1, 1 * MB]), { known: false, reason: 'r.example/b:1: HTTP 503' }, image([2, 50 * MB])]);
    expect(plan).toMatchObject({ order: [0, 1, 2], planned: false, reason: 'r.example/b:1: HTTP 503', bytes: undefined });
  });

  it('a layer named twice in one manifest counts once', () => {
    expect(planPulls([image([1, 2 * MB], [1, 2 * MB])]).bytes).toBe(2 * MB);
  });

  it('presentLayersOf takes every layer of an image whose index or platform digest the engine holds', () => {
    const held: ImageLayers = { known: true, layers: [{ digest: d(7), size: 1 }], manifestDigests: [d(70), d(71)] };
    const other: ImageLayers = { known: true, layers: [{ digest: d(8), size: 1 }], manifestDigests: [d(80)] };
    expect([...presentLayersOf([held, other, { known: false, reason: 'x' }], new Set([d(71)]))]).toEqual([d(7)]);
  });
});
