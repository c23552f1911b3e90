import { describe, expect, it } from 'vitest';
import { Redactor } from '../../../src/core/output.ts';
import type { RunProcess } from '../../../src/core/process.ts';
import { goQuoted, helperFor, registerDockerCredentials, savedSecrets, secretForms } from '../../../src/pull/credentials.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('registered credentials', () => {
  const config = {
    auths: {
      'r.example.com': { auth: Buffer.from('robot:pa"ss\\wörd\n').toString('base64') },
      'ghcr.io': { identitytoken: 'ghcr-refresh-token-123' },
      broken: { auth: '' },
    },
  };

  it('finds every secret docker could send', () => {
    expect(savedSecrets(config).map((s) => s.secret)).toEqual([Buffer.from('robot:pa"ss\\wörd\n').toString('base64'), 'pa"ss\\wörd\n', 'ghcr-refresh-token-123']);
  });

  it('redacts the password plain, JSON- and Go-quoted, user:password and the Basic header', () => {
    const redactor = new Redactor();
    for (const saved of savedSecrets(config)) for (const form of secretForms(saved)) redactor.add(form);
    const basic = Buffer.from('robot:pa"ss\\wörd').toString('base64');
    const echoes = [
      `Authorization: Basic ${basic}`,
      'password pa"ss\\wörd was refused',
      `json ${JSON.stringify({ password: 'pa"ss\\wörd' })}`,
      `go ${'"'}${goQuoted('pa"ss\\wörd')}${'"'}`,
      'pair robot:pa"ss\\wörd',
      'token ghcr-refresh-token-123',
    ];
    for (const echo of echoes) {
      const out = redactor.redact(echo);
      expect(out, echo).toContain('***');
      expect(out).not.toMatch(/pa"ss|pa\\"ss|ghcr-refresh/);
      expect(out).not.toContain(basic);
    }
  });

  it('asks the credential helper docker would ask, for the hosts pulled from, and redacts its answer', async () => {
    const config = { credsStore: 'desktop', credHelpers: { 'ecr.example.com': 'ecr-login', 'opted.example.com': '', 'bad.example.com': '../x' } };
    expect(helperFor(config, 'ecr.example.com')).toEqual({ helper: 'ecr-login', key: 'ecr.example.com' });
    expect(helperFor(config, 'docker.io')).toEqual({ helper: 'desktop', key: 'https://index.docker.io/v1/' });
    expect(helperFor(config, 'opted.example.com')).toBeUndefined();
    expect(helperFor(config, 'bad.example.com')).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'regauth-cred-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const asked: string[] = [];
    const run: RunProcess = (request) => {
      asked.push(`${request.command} ${request.args.join(' ')} <${request.stdin ?? ''}`);
      const secret = request.command === 'docker-credential-ecr-login' ? 'ecr-helper-secret-77' : 'hub-helper-secret-88';
      return Promise.resolve({ exitCode: 0, stdout: JSON.stringify({ ServerURL: request.stdin, Username: 'AWS', Secret: secret }), stderr: '' });
    };
    const redactor = new Redactor();
    await registerDockerCredentials({ DOCKER_CONFIG: dir }, redactor, { run, env: {}, domains: ['ecr.example.com', 'docker.io', 'opted.example.com'] });
    expect(asked.sort()).toEqual(['docker-credential-desktop get <https://index.docker.io/v1/', 'docker-credential-ecr-login get <ecr.example.com']);
    expect(redactor.redact('a ecr-helper-secret-77 b hub-helper-secret-88 c ' + Buffer.from('AWS:ecr-helper-secret-77').toString('base64'))).toBe('a *** b *** c ***');
  });

  it('quotes as Go does', () => {
    expect(goQuoted('a"b\\c\n\u0001é')).toBe('a\\"b\\\\c\\n\\x01é');
  });
});
