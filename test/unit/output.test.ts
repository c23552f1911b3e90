import { describe, expect, it } from 'vitest';
import { Redactor, Reporter } from '../../src/core/output.ts';

function capture(): { sink: { write: (t: string) => void }; text: () => string } {
  let text = '';
  return { sink: { write: (t) => void (text += t) }, text: () => text };
}

describe('output', () => {
  it('redacts a secret, its base64 and its URL encoding, from every line', () => {
    const redactor = new Redactor();
    redactor.add('p@ss/word+1');
    const out = capture();
    const reporter = new Reporter(redactor, out.sink, out.sink);
    reporter.line(`raw p@ss/word+1 b64 ${Buffer.from('p@ss/word+1').toString('base64')} url ${encodeURIComponent('p@ss/word+1')}`);
    expect(out.text()).toBe('raw *** b64 *** url ***\n');
  });

  it('ignores values too short to be secrets (they would shred the output)', () => {
    const redactor = new Redactor();
    redactor.add('ab');
    expect(redactor.redact('abc')).toBe('abc');
  });

  it('folds a failure onto one line', () => {
    const out = capture();
    new Reporter(new Redactor(), out.sink, out.sink).failure('first\n  second');
    expect(out.text()).toBe('regauth: first second\n');
  });
});
