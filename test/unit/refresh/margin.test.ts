import { describe, expect, it } from 'vitest';
import { refreshAtSeconds } from '../../../src/refresh/margin.ts';

describe('refresh margin', () => {
  it('is 5 minutes for every lifetime a job meets, half the lifetime only below 10 minutes', () => {
    const at = (lifetime: number) => 1_000_000 + lifetime - refreshAtSeconds(1_000_000_000, 1_000_000_000 + lifetime * 1000);
    expect(at(3600)).toBe(300);
    expect(at(900)).toBe(300);
    expect(at(600)).toBe(300);
    expect(at(12 * 3600)).toBe(300);
    expect(at(8)).toBe(4);
  });
});
