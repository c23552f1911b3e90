import { describe, expect, it } from 'vitest';
import { loginLine, Redactor, remote, REMOTE_TEXT_MAX, Reporter, safeRemoteText, stripControls, unmarked, withoutRemote, type Sink } from '../../../src/core/output.ts';

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

describe('redactor forms (what registries echo)', () => {
  it('catches base64(user:password) for any user name, padded or not', () => {
    const redactor = new Redactor();
    redactor.addCredentials('AWS', 'ecr-password-value');
    const basic = Buffer.from('AWS:ecr-password-value').toString('base64');
    expect(redactor.redact(`Basic ${basic}`)).toBe('Basic ***');
    expect(redactor.redact(basic.replace(/=+$/, ''))).toBe('***');
    // base64 of the password alone, inside any larger base64 text, is caught too.
    expect(redactor.redact(Buffer.from('xyAWS::ecr-password-value!').toString('base64'))).not.toContain(Buffer.from('ecr-password-value').toString('base64').slice(4, 16));
  });

  it('catches a password registered with a trailing newline when it comes back without it', () => {
    const redactor = new Redactor();
    redactor.addCredentials('ci', 'pass-with-newline\n');
    expect(redactor.redact('bad pass-with-newline here')).toBe('bad *** here');
    expect(redactor.redact(Buffer.from('ci:pass-with-newline').toString('base64'))).toBe('***');
  });

  it('catches JSON- and Go-quoted forms', () => {
    const redactor = new Redactor();
    redactor.add('pa"ss\\word');
    expect(redactor.redact(JSON.stringify({ p: 'pa"ss\\word' }))).toBe('{"p":"***"}');
  });
});

describe('remote text', () => {
  const secret = 'straddling-secret-0123456789';
  const reporterWith = (...secrets: string[]) => {
    const redactor = new Redactor();
    for (const s of secrets) redactor.add(s);
    const out = capture();
    return { reporter: new Reporter(redactor, out.sink, out.sink), out };
  };

  it('is redacted before it is cut: a secret straddling the cut never shows in part', () => {
    for (let pad = REMOTE_TEXT_MAX - 40; pad < REMOTE_TEXT_MAX + 5; pad++) {
      const { reporter, out } = reporterWith(secret);
      reporter.failure(`login: refused (${remote(`${'x'.repeat(pad)}${secret} tail`)})`);
      expect(out.text()).not.toMatch(/straddl|0123/);
    }
  });

  it('is stripped of escape sequences and control characters, folded and visibly quoted', () => {
    const { reporter, out } = reporterWith();
    reporter.line(`regauth: docker said ${remote('\u001b[32mok\u001b[0m\r\nregauth: logged in to evil.example\u0007\u202e')}`);
    expect(out.text()).toBe('regauth: docker said "ok regauth: logged in to evil.example"\n');
    expect(safeRemoteText('say "hi"', new Redactor())).toBe('"say \\"hi\\""');
  });

  it('cannot smuggle a secret past redaction with control characters inside it', () => {
    const { reporter, out } = reporterWith(secret);
    reporter.line(remote(`${secret.slice(0, 6)}\u001b[0m${secret.slice(6)}`));
    expect(out.text()).toBe('"***"\n');
  });

  it('marking twice is harmless, and unmarked() gives the text back', () => {
    expect(unmarked(remote(remote('a')))).toBe('a');
    expect(stripControls('a\tb\u0000c')).toBe('a bc');
  });
});

describe('one style', () => {
  it('a registry line names host, identity, expiry as HH:MM:SS UTC and renewal', () => {
    expect(loginLine('r.example.com', { identity: 'arn:aws:iam::1:role/x', renewal: 'renews itself' }, new Date(Date.UTC(2026, 0, 1, 8, 39, 57)))).toBe(
      'regauth: logged in to r.example.com as arn:aws:iam::1:role/x, valid until 08:39:57 UTC, renews itself',
    );
  });

  it('a retry line carries no remote text (the failure line has it once); REGAUTH_DEBUG shows it', () => {
    const out: string[] = [];
    const sink: Sink = { write: (text) => void out.push(text) };
    const reporter = new Reporter(undefined, sink, sink);
    reporter.retrying('login to r.example.com', 1, remote('Get "https://r.example.com/v2/": EOF'), 500);
    reporter.retrying('sts:AssumeRoleWithWebIdentity', 2, `Throttling: ${remote('Rate exceeded')}`, 1500);
    expect(out).toEqual(['regauth: login to r.example.com failed (attempt 1); retrying in 0.5 s\n', 'regauth: sts:AssumeRoleWithWebIdentity failed (attempt 2: Throttling); retrying in 1.5 s\n']);
    reporter.verbose = true;
    reporter.retrying('login to r.example.com', 1, remote('EOF'), 500);
    expect(out.at(-1)).toBe('regauth:   attempt 1: "EOF"\n');
    expect(withoutRemote(`the registry refused the credentials (${remote('401')})`)).toBe('the registry refused the credentials');
  });
});
