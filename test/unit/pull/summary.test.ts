import { Reporter } from '../../../src/core/output.ts';
import { describe, expect, it } from 'vitest';
import { failureSummary, mirrorFailurePhrase, progressLine, shortDigest, summaryTable, type PullOutcome, planLine, transferLine } from '../../../src/pull/summary.ts';

const DIGEST = `sha256:${'abcdef0123456789'.repeat(4)}`;

const pulled: PullOutcome = { ok: true, image: 'docker.io/library/postgres:16', digest: DIGEST, seconds: 1.234, attempts: 1, source: 'registry', note: undefined };
const retried: PullOutcome = { ok: true, image: 'ghcr.io/acme/api:1.4.2', digest: DIGEST, seconds: 12.05, attempts: 3, source: 'registry', note: undefined };
const missing: PullOutcome = {
  ok: false,
  image: 'docker.io/library/postgres:99',
  seconds: 0.4,
  attempts: 1,
  reason: 'the image or tag does not exist (manifest unknown)',
  category: 'not-found',
  detail: 'manifest for postgres:99 not found: manifest unknown: manifest unknown',
};
const limited: PullOutcome = { ok: false, image: 'docker.io/cimg/node:22.1', seconds: 31, attempts: 5, reason: 'rate limited by the registry (429 toomanyrequests)', category: 'rate-limit', detail: '' };

describe('progressLine', () => {
  it.each([
    [pulled, `✔ docker.io/library/postgres:16 sha256:abcdef012345… 1.2 s, 1 attempt`],
    [retried, `✔ ghcr.io/acme/api:1.4.2 sha256:abcdef012345… 12.1 s, 3 attempts`],
    [{ ...pulled, source: 'mirror' }, `✔ docker.io/library/postgres:16 sha256:abcdef012345… 1.2 s, 1 attempt, via mirror`],
    [{ ...pulled, source: 'fallback', attempts: 2 }, `✔ docker.io/library/postgres:16 sha256:abcdef012345… 1.2 s, 2 attempts, from Docker Hub after the mirror failed`],
    [{ ...pulled, digest: undefined, note: 'pinned' }, `✔ docker.io/library/postgres:16 digest unknown 1.2 s, 1 attempt (pinned)`],
    [
      missing,
      '✘ docker.io/library/postgres:99 the image or tag does not exist (manifest unknown), after 0.4 s, 1 attempt (docker: "manifest for postgres:99 not found: manifest unknown: manifest unknown")',
    ],
    [limited, '✘ docker.io/cimg/node:22.1 rate limited by the registry (429 toomanyrequests), after 31.0 s, 5 attempts'],
  ] as [PullOutcome, string][])('%#', (outcome, line) => {
    // As printed: the Reporter renders docker's words as one quoted, cleaned line.
    expect(new Reporter().render(progressLine(outcome))).toBe(line);
  });

  it('prints docker\'s words as one quoted line with no control characters', () => {
    const hostile: PullOutcome = { ...missing, detail: 'denied\u001b[31m\r\nregauth: logged in to evil.example' };
    expect(new Reporter().render(progressLine(hostile))).toMatch(/\(docker: "denied regauth: logged in to evil\.example"\)$/);
  });
});

describe('summaryTable', () => {
  it('aligns every column and right-aligns the numbers', () => {
    expect(summaryTable([{ ...pulled, sizeBytes: 45_200_000 }, missing, { ...retried, sizeBytes: 812_000 }], 13.4)).toEqual([
      `IMAGE                          DIGEST${' '.repeat(65)}  SECONDS     SIZE  ATTEMPTS`,
      `docker.io/library/postgres:16  ${DIGEST}      1.2   45.2MB         1`,
      `docker.io/library/postgres:99  failed${' '.repeat(65)}      0.4        -         1`,
      `ghcr.io/acme/api:1.4.2         ${DIGEST}     12.1  812.0kB         3`,
      'total: 2 of 3 images, 46.0 MB in 13.4 s',
    ]);
  });

  it('names the images that were present and the pulls that were no-ops', () => {
    const present: PullOutcome = { ...pulled, image: 'docker.io/library/redis@' + DIGEST, source: 'present', attempts: 0, sizeBytes: 1000 };
    const lines = summaryTable([present, { ...retried, upToDate: true }]);
    expect(lines.slice(-3)).toEqual([
      'total: 2 of 2 images, 1.00 kB (some sizes unknown)',
      `present, not pulled (pinned by digest, already held): docker.io/library/redis@${DIGEST}`,
      'no-op pulls (Image is up to date): ghcr.io/acme/api:1.4.2',
    ]);
    expect(progressLine(present)).toBe(`✔ docker.io/library/redis@${DIGEST} present (the engine holds this digest; not pulled, no registry request)`);
    expect(progressLine({ ...retried, upToDate: true })).toBe('✔ ghcr.io/acme/api:1.4.2 sha256:abcdef012345… 12.1 s, 3 attempts, Image is up to date (no-op)');
  });

  it('keeps the header when digests are short or missing', () => {
    const [header, row] = summaryTable([{ ...pulled, digest: undefined }]);
    expect(header).toBe('IMAGE                          DIGEST  SECONDS  SIZE  ATTEMPTS');
    expect(row).toBe('docker.io/library/postgres:16  -           1.2     -         1');
  });
});

describe('failureSummary', () => {
  it('is undefined when everything was pulled', () => {
    expect(failureSummary([pulled, retried])).toBeUndefined();
  });

  it('names every failed image and why', () => {
    expect(failureSummary([pulled, missing, retried, limited])).toBe(
      'could not pull 2 of 4 images: docker.io/library/postgres:99 (the image or tag does not exist (manifest unknown), after 1 attempt); ' +
        'docker.io/cimg/node:22.1 (rate limited by the registry (429 toomanyrequests), after 5 attempts)',
    );
  });
});

describe('failureSummary after a mirror', () => {
  const noHost = {
    ...missing,
    image: 'docker.io/cimg/redis:7.2',
    attempts: 2,
    reason: 'the registry host name does not resolve (no such host)',
    category: 'network' as const,
    mirror: 'the mirror lacked it (manifest unknown)',
  };

  it('says what the mirror did before Docker Hub failed', () => {
    expect(failureSummary([pulled, noHost])).toBe(
      'could not pull 1 of 2 images: docker.io/cimg/redis:7.2 (the mirror lacked it (manifest unknown), then Docker Hub: the registry host name does not resolve (no such host), after 2 attempts)',
    );
  });

  it('keeps it next to each image when the Docker Hub cause is shared', () => {
    const direct: PullOutcome = { ...missing, image: 'docker.io/library/alpine:3.20', reason: noHost.reason, category: 'network' };
    expect(failureSummary([noHost, direct])).toBe(
      'could not pull 2 of 2 images (the registry host name does not resolve (no such host)): ' +
        'docker.io/cimg/redis:7.2 after 2 attempts (the mirror lacked it (manifest unknown) first), docker.io/library/alpine:3.20 after 1 attempt',
    );
  });
});

describe('mirrorFailurePhrase', () => {
  it.each([
    [{ category: 'not-found', reason: 'the image or tag does not exist (manifest unknown)', detail: 'manifest for m/x:1 not found: manifest unknown: manifest unknown' }, 'the mirror lacked it (manifest unknown)'],
    [{ category: 'not-found', reason: 'the repository does not exist …', detail: 'pull access denied for m/x, repository does not exist' }, 'the mirror lacked it (no such repository, or no access to it)'],
    [{ category: 'auth', reason: 'the registry refused access …', detail: 'no basic auth credentials' }, 'the mirror refused access (not logged in to it?)'],
    [{ category: 'server', reason: 'the registry answered with a server error (5xx)', detail: '' }, 'the mirror failed (the registry answered with a server error (5xx))'],
  ] as const)('%j', (verdict, phrase) => {
    expect(mirrorFailurePhrase(verdict)).toBe(phrase);
  });
});

describe('failureSummary with one cause', () => {
  it('says a shared reason once', () => {
    const down = { ...missing, reason: 'the Docker daemon is not reachable', category: 'engine' as const };
    expect(failureSummary([down, { ...down, image: 'ghcr.io/a/b:1', attempts: 2 }])).toBe(
      'could not pull 2 of 2 images (the Docker daemon is not reachable): docker.io/library/postgres:99 after 1 attempt, ghcr.io/a/b:1 after 2 attempts',
    );
  });
});

describe('shortDigest', () => {
  it.each([
    [DIGEST, 'sha256:abcdef012345…'],
    ['sha256:abc', 'sha256:abc'],
    [undefined, 'digest unknown'],
  ])('%s', (digest, expected) => {
    expect(shortDigest(digest)).toBe(expected);
  });
});

const MB = 1_000_000;

describe('the summary line', () => {
  const ok = (image: string, extra: Partial<Extract<PullOutcome, { ok: true }>> = {}): PullOutcome => ({ ok: true, image, digest: undefined, seconds: 1, attempts: 1, source: 'registry', note: undefined, ...extra });
  it('says bytes, wall time and rate in the unit style', () => {
    expect(transferLine([ok('a'), ok('b')], 9_100, { bytes: 152_300_000, from: 'docker' })).toBe('regauth: downloaded 152.3 MB in 9.1 s (16.7 MB/s)');
    expect(transferLine([ok('a')], 2_000, { bytes: 4_000_000, from: 'manifests' })).toBe('regauth: downloaded about 4.00 MB in 2.0 s (2.00 MB/s)');
  });
  it('calls a pull that changed nothing a no-op, with no bytes', () => {
    expect(transferLine([ok('a', { upToDate: true }), ok('b', { source: 'present' })], 400, { bytes: 0, from: 'docker' })).toBe('regauth: nothing downloaded in 0.4 s: every image was already up to date');
  });
  it('the plan line names the order and what was counted once', () => {
    expect(planLine({ planned: true, reason: undefined, bytes: 57 * MB, sharedLayers: 1, presentLayers: 0, reordered: true })).toBe('regauth: pull plan: biggest download first; 57.0 MB to download, 1 shared layer counted once');
  });
});
