import { describe, expect, it } from 'vitest';
import { mapWithConcurrency } from '../../../src/pull/pool.ts';

/** A task whose completion the test controls, so order and overlap do not depend on timing. */
function gate<T>() {
  let open!: (value: T) => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('mapWithConcurrency', () => {
  it('keeps the input order even when later tasks finish first', async () => {
    const gates = [gate<string>(), gate<string>(), gate<string>()];
    const done = mapWithConcurrency([0, 1, 2], 3, (i) => gates[i]!.promise);
    gates[2]!.open('c');
    gates[0]!.open('a');
    gates[1]!.open('b');
    expect(await done).toEqual(['a', 'b', 'c']);
  });

  it.each([1, 2, 4, 32])('never runs more than %i at once and runs them all', async (limit) => {
    let inFlight = 0;
    let maxInFlight = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 10 }, () => gate<number>());
    const done = mapWithConcurrency([...gates.keys()], limit, async (i) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      started.push(i);
      try {
        return await gates[i]!.promise;
      } finally {
        inFlight--;
      }
    });
    // Release the most recently started task, one at a time, letting the pool refill in between.
    const released = new Set<number>();
    while (released.size < gates.length) {
      await flush();
      expect(inFlight).toBeLessThanOrEqual(limit);
      const last = started.filter((i) => !released.has(i)).at(-1)!;
      released.add(last);
      gates[last]!.open(last * 10);
    }
    expect(await done).toEqual([...gates.keys()].map((i) => i * 10));
    expect(maxInFlight).toBe(Math.min(limit, gates.length));
  });

  it('returns an empty list for no items', async () => {
    expect(await mapWithConcurrency([], 4, () => Promise.resolve(1))).toEqual([]);
  });

  it('stops starting tasks after one throws and rethrows the first error', async () => {
    const started: number[] = [];
    const result = mapWithConcurrency([0, 1, 2, 3], 1, async (i) => {
      started.push(i);
      if (i === 1) throw new Error('boom');
      return i;
    });
    await expect(result).rejects.toThrow('boom');
    expect(started).toEqual([0, 1]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a concurrency of %s', async (limit) => {
    await expect(mapWithConcurrency([1], limit, () => Promise.resolve(1))).rejects.toThrow(RangeError);
  });
});

describe('mapWithConcurrency release', () => {
  it('starts the next item when a running one releases its slot, and still waits for it to end', async () => {
    const gates = [gate<string>(), gate<string>(), gate<string>()];
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const done = mapWithConcurrency([0, 1, 2], 1, (i, _index, release) => {
      started.push(i);
      releases[i] = release;
      return gates[i]!.promise;
    });
    await flush();
    expect(started).toEqual([0]);
    releases[0]!();
    releases[0]!();
    await flush();
    // A second release of the same slot frees nothing more.
    expect(started).toEqual([0, 1]);
    gates[1]!.open('b');
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[2]!.open('c');
    let settled = false;
    void done.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    gates[0]!.open('a');
    expect(await done).toEqual(['a', 'b', 'c']);
  });
});
