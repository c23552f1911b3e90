import { describe, expect, it } from 'vitest';
import { formatEntry, parseEntry } from '../../../src/refresh/cache.ts';

describe('cache entries', () => {
  it('round-trip, and refuse a multi-line answer or a damaged file', () => {
    const entry = { refreshAt: 100, answer: '{"Secret":"x"}', expiresAt: 400 };
    expect(parseEntry(formatEntry(entry))).toEqual(entry);
    expect(() => formatEntry({ ...entry, answer: 'a\nb' })).toThrow();
    expect(parseEntry('12\n')).toBeUndefined();
    expect(parseEntry('x\n{}\n3\n')).toBeUndefined();
  });
});
