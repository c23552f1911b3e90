import { describe, expect, it } from 'vitest';
import { unmarked } from '../../../src/core/output.ts';
import { ProcessStartError } from '../../../src/core/process.ts';
import { DockerCommandError, dockerErrorLine } from '../../../src/docker/error.ts';
import { classifyFailure, classifyPullError, statedWaitMs } from '../../../src/pull/classify.ts';

const daemon = (message: string) => `Error response from daemon: ${message}\n`;

// Wording as docker 20–28 prints it (classic engine and containerd image store).
const TRANSIENT: [string, string, string][] = [
  ['rate-limit', 'Docker Hub pull limit', daemon('toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit')],
  ['rate-limit', '429 without a body', daemon('error parsing HTTP 429 response body: unexpected end of JSON input: ""')],
  ['rate-limit', 'containerd store 429', 'failed to resolve reference "docker.io/library/redis:7": unexpected status from HEAD request to https://registry-1.docker.io/v2/library/redis/manifests/7: 429 Too Many Requests\n'],
  ['rate-limit', 'ECR throttling', daemon('toomanyrequests: Rate exceeded')],
  ['server', '503', daemon('received unexpected HTTP status: 503 Service Unavailable')],
  ['server', '500', daemon('received unexpected HTTP status: 500 Internal Server Error')],
  ['server', '502', daemon('Get "https://registry.example.com/v2/": received unexpected HTTP status: 502 Bad Gateway')],
  ['server', '504', 'failed to copy: httpReadSeeker: failed open: unexpected status code https://r.example.com/v2/a/blobs/sha256:ab: 504 Gateway Timeout\n'],
  ['server', 'bad JSON in a 5xx', daemon('error parsing HTTP 500 response body: invalid character \'<\' looking for beginning of value: "<html>"')],
  ['network', 'TLS handshake timeout', daemon('Get "https://registry-1.docker.io/v2/": net/http: TLS handshake timeout')],
  ['network', 'reset', daemon('Get "https://registry-1.docker.io/v2/": read tcp 10.0.0.2:51234->54.1.2.3:443: read: connection reset by peer')],
  ['network', 'i/o timeout', daemon('Get "https://registry-1.docker.io/v2/": dial tcp 54.1.2.3:443: i/o timeout')],
  ['network', 'DNS timeout', daemon('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: read udp 127.0.0.1:4->127.0.0.53:53: i/o timeout')],
  ['network', 'unexpected EOF', 'unexpected EOF\n'],
  ['network', 'plain EOF', daemon('Get "https://127.0.0.1:5000/v2/": EOF')],
  ['network', 'deadline', daemon('Get "https://registry-1.docker.io/v2/": context deadline exceeded')],
  ['network', 'client timeout', daemon('Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)')],
  ['network', 'registry restarting', daemon('Get "https://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused')],
  ['unknown', 'unrecognised wording', daemon('something new and strange happened')],
];

const PERMANENT: [string, string, string][] = [
  ['auth', 'Docker Hub bad password', daemon('Head "https://registry-1.docker.io/v2/library/redis/manifests/7": unauthorized: incorrect username or password')],
  ['auth', 'needs login', daemon('Head "https://127.0.0.1:5000/v2/app/manifests/1": no basic auth credentials')],
  ['auth', 'ECR token expired', daemon('denied: Your authorization token has expired. Reauthenticate and try again.')],
  ['auth', 'authentication required', daemon('unauthorized: authentication required')],
  ['auth', 'containerd 401', 'failed to resolve reference "r.example.com/app:1": unexpected status from HEAD request to https://r.example.com/v2/app/manifests/1: 401 Unauthorized\n'],
  ['auth', 'containerd 403', 'failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://auth.example.com/token: 403 Forbidden\n'],
  ['not-found', 'Docker Hub private or missing', daemon("pull access denied for acme/nothing, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")],
  ['not-found', 'manifest unknown', daemon('manifest for postgres:99 not found: manifest unknown: manifest unknown')],
  ['not-found', 'containerd not found', 'failed to resolve reference "docker.io/library/postgres:99": docker.io/library/postgres:99: not found\n'],
  ['not-found', 'name unknown', daemon('Head "https://ghcr.io/v2/a/b/manifests/1": name unknown: repository name not known to registry')],
  ['platform', 'no platform', daemon('no matching manifest for linux/s390x in the manifest list entries')],
  ['platform', 'containerd platform', 'image with reference docker.io/library/app:1 was found but does not provide the specified platform (linux/riscv64)\n'],
  ['network', 'no such host', daemon('Get "https://nowhere.example/v2/": dial tcp: lookup nowhere.example on 127.0.0.53:53: no such host')],
  ['reference', 'bad reference', 'invalid reference format: repository name (library/Redis) must be lowercase\n'],
  ['tls', 'untrusted certificate', daemon('Get "https://r.example.com/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority')],
  ['tls', 'http registry', daemon('Get "https://r.example.com:5000/v2/": http: server gave HTTP response to HTTPS client')],
  ['local', 'disk full', 'failed to register layer: write /var/lib/docker/overlay2/x/diff/usr/lib/a.so: no space left on device\n'],
  ['engine', 'no daemon', 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n'],
  ['engine', 'remote daemon down', 'error during connect: Get "http://127.0.0.1:2375/v1.50/images/create": dial tcp 127.0.0.1:2375: connect: connection refused\n'],
  ['engine', 'socket permission', 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Head "http://%2Fvar%2Frun%2Fdocker.sock/_ping": dial unix /var/run/docker.sock: connect: permission denied\n'],
];

describe('classifyFailure', () => {
  it.each(TRANSIENT)('%s (%s) is transient', (category, _name, output) => {
    const verdict = classifyFailure({ exitCode: 1, output });
    expect(verdict).toMatchObject({ kind: 'transient', category });
  });

  it.each(PERMANENT)('%s (%s) is permanent', (category, _name, output) => {
    const verdict = classifyFailure({ exitCode: 1, output });
    expect(verdict).toMatchObject({ kind: 'permanent', category });
  });

  it('tells the user how to get a Docker daemon', () => {
    const verdict = classifyFailure({ exitCode: 1, output: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' });
    expect(verdict.reason).toMatch(/machine executor.*setup_remote_docker/);
  });

  // Image names end up in docker's messages; a name must never change the verdict.
  it.each([
    ['a repository called "toomanyrequests" that is missing', daemon('manifest for acme/toomanyrequests:latest not found: manifest unknown: manifest unknown'), 'permanent'],
    ['a tag called 503 that is missing', daemon('manifest for acme/app:503 not found: manifest unknown: manifest unknown'), 'permanent'],
    ['a repository called "denied" behind a refused connection', daemon('Get "https://127.0.0.1:5000/v2/denied/manifests/latest": dial tcp 127.0.0.1:5000: connect: connection refused'), 'transient'],
    ['a repository called "unauthorized" with a 503', daemon('Head "https://r.example.com/v2/unauthorized/manifests/1": received unexpected HTTP status: 503 Service Unavailable'), 'transient'],
    ['a repository called "eof" with a timeout', daemon('Get "https://r.example.com/v2/eof/manifests/1": net/http: TLS handshake timeout'), 'transient'],
    ['a repository called "not-found" that times out', daemon('Head "https://r.example.com/v2/not-found/manifests/1": dial tcp 10.1.1.1:443: i/o timeout'), 'transient'],
  ])('%s', (_name, output, kind) => {
    expect(classifyFailure({ exitCode: 1, output }).kind).toBe(kind);
  });

  it('treats a pull killed by a signal as transient', () => {
    expect(classifyFailure({ exitCode: 137, output: '' })).toMatchObject({ kind: 'transient', reason: 'docker was stopped by a signal (exit 137)' });
  });

  it('carries a wait the registry stated', () => {
    const verdict = classifyFailure({ exitCode: 1, output: daemon('toomanyrequests: retry-after: 1.5s, allowed: 44000/minute') });
    expect(verdict).toMatchObject({ kind: 'transient', retryAfterMs: 1500 });
  });

  it('states no wait for Docker Hub’s limit, which names none', () => {
    const verdict = classifyFailure({ exitCode: 1, output: TRANSIENT[0]![2] });
    expect(verdict).not.toHaveProperty('retryAfterMs');
  });

  it('keeps docker’s own line as the detail', () => {
    const verdict = classifyFailure({ exitCode: 1, output: `Using default tag: latest\n${daemon('manifest for postgres:99 not found: manifest unknown: manifest unknown')}` });
    expect(verdict.detail).toBe('manifest for postgres:99 not found: manifest unknown: manifest unknown');
  });
});

describe('statedWaitMs', () => {
  it.each([
    ['toomanyrequests: retry-after: 764.664µs, allowed: 44000/minute', 1],
    ['toomanyrequests: retry-after: 2.5s', 2500],
    ['retry-after: 1m30s', 90_000],
    ['Retry-After: 30', 30_000],
    ['please try again in 12 seconds', 12_000],
    ['retry in 2 minutes', 120_000],
    ['You have reached your pull rate limit', undefined],
    ['retry-after: soon', undefined],
    ['unexpected status 429 after 3 attempts', undefined],
  ])('%j → %s', (text, expected) => {
    expect(statedWaitMs(text)).toBe(expected);
  });
});

describe('classifyPullError', () => {
  it('reads a DockerCommandError', () => {
    const error = new DockerCommandError(['pull', '-q', 'postgres:99'], 1, daemon('manifest for postgres:99 not found: manifest unknown: manifest unknown'));
    expect(classifyPullError(error)).toMatchObject({ kind: 'permanent', category: 'not-found' });
    expect(unmarked(error.message)).toBe('docker pull -q postgres:99 exited with 1: manifest for postgres:99 not found: manifest unknown: manifest unknown');
  });

  it('says docker is missing and how to get it', () => {
    expect(classifyPullError(new ProcessStartError('docker', 'ENOENT'))).toMatchObject({
      kind: 'permanent',
      category: 'engine',
      reason: expect.stringMatching(/^docker was not found on PATH — run the job on a machine executor/),
    });
  });

  it('does not retry its own bugs', () => {
    expect(classifyPullError(new TypeError('x is undefined'))).toMatchObject({ kind: 'permanent', reason: 'internal error: x is undefined' });
  });
});

describe('dockerErrorLine', () => {
  it('keeps very long lines whole (the Reporter cuts remote text, after redaction)', () => {
    const line = dockerErrorLine(`Error response from daemon: ${'x'.repeat(400)} error`);
    expect(line).toHaveLength(406);
  });

  it('falls back to the last line', () => {
    expect(dockerErrorLine('first\nsecond\n\n')).toBe('second');
  });
});
