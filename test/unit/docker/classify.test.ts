import { describe, expect, it } from 'vitest';
import { classifyDockerOutput } from '../../../src/docker/classify.ts';
import { DockerCommandError } from '../../../src/docker/error.ts';
import { classifyLoginFailure } from '../../../src/docker/login.ts';
import { classifyFailure } from '../../../src/pull/classify.ts';

const daemon = (message: string) => `Error response from daemon: ${message}\n`;
const loginError = (output: string) => new DockerCommandError(['login', '--username', 'ci', '--password-stdin', 'r.example.com'], 1, output);

// One reading of docker's wording: login and pull agree on every case.
const SHARED: [string, 'transient' | 'permanent', string][] = [
  ['deadline', 'transient', daemon('Get "https://r.example.com/v2/": context deadline exceeded')],
  ['TLS handshake timeout', 'transient', daemon('Get "https://r.example.com/v2/": net/http: TLS handshake timeout')],
  ['reset', 'transient', daemon('Get "https://r.example.com/v2/": read tcp 10.0.0.2:5->1.2.3.4:443: read: connection reset by peer')],
  ['EOF', 'transient', daemon('Get "https://r.example.com/v2/": EOF')],
  ['503', 'transient', 'login attempt to https://r.example.com/v2/ failed with status: 503 Service Unavailable\n'],
  ['429', 'transient', daemon('toomanyrequests: Rate exceeded')],
  ['server misbehaving', 'transient', daemon('Get "https://r.example.com/v2/": dial tcp: lookup r.example.com on 127.0.0.53:53: server misbehaving')],
  ['unauthorized', 'permanent', daemon('Get "https://r.example.com/v2/": unauthorized: incorrect username or password')],
  ['401', 'permanent', 'login attempt to https://r.example.com/v2/ failed with status: 401 Unauthorized\n'],
  ['denied', 'permanent', daemon('denied: requested access to the resource is denied')],
  [
    'unauthorized at the first endpoint docker tried',
    'permanent',
    'time="2026-12-01T21:33:35Z" level=info msg="Error logging in to endpoint, trying next endpoint" endpoint="{false https://127.0.0.1:5000 false false false 0xc0003290e0}" error="Get \\"https://127.0.0.1:5000/v2/\\": unauthorized: incorrect username or password"\nlogin attempt to http://127.0.0.1:5000/v2/ failed with status: 400 Bad Request\n',
  ],
  ['no such host', 'permanent', daemon('Get "https://nowhere.example/v2/": dial tcp: lookup nowhere.example on 127.0.0.53:53: no such host')],
];

describe('one classifier of docker wording for login and pull', () => {
  it.each(SHARED)('%s is %s for both', (_name, kind, output) => {
    expect(classifyDockerOutput({ exitCode: 1, output })?.kind).toBe(kind);
    expect(classifyFailure({ exitCode: 1, output }).kind).toBe(kind);
    expect(classifyLoginFailure(loginError(output)).kind).toBe(kind);
  });

  it('login words refused credentials as such and keeps docker own line as remote text', () => {
    const verdict = classifyLoginFailure(loginError(daemon('unauthorized: incorrect username or password')));
    expect(verdict.reason).toMatch(/^the registry refused the credentials \(\u{F8F0}unauthorized: incorrect username or password\u{F8F1}\)$/u);
  });

  it('login stops on wording no rule knows (pull tries again)', () => {
    const output = daemon('something new and strange happened');
    expect(classifyLoginFailure(loginError(output)).kind).toBe('permanent');
    expect(classifyFailure({ exitCode: 1, output }).kind).toBe('transient');
  });

  it('login says a CLI without --password-stdin is too old', () => {
    expect(classifyLoginFailure(loginError('unknown flag: --password-stdin\n')).reason).toMatch(/too old for --password-stdin/);
  });
});
