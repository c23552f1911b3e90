import { describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/core/cli.ts';
import { main, type PullMainDeps } from '../../../src/commands/pull.ts';
import { Redactor, Reporter } from '../../../src/core/output.ts';
import type { ProcessRequest, ProcessResult, RunProcess } from '../../../src/core/process.ts';
import { digestFromPullOutput, failureOutput, pickRepoDigest } from '../../../src/pull/docker-pull.ts';
import type { Fetch } from '../../../src/pull/http.ts';
import { parseReference } from '../../../src/registry/reference.ts';

const DIGEST = `sha256:${'c'.repeat(64)}`;

/** A fake docker CLI: answers by the command's arguments; records each request. */
function fakeDocker(answer: (args: readonly string[]) => Partial<ProcessResult> = () => ({})) {
  const requests: ProcessRequest[] = [];
  const run: RunProcess = (request) => {
    // No terminal here (util-linux script is asked first): docker runs on plain pipes.
    if (request.command === 'script') return Promise.resolve({ exitCode: 1, stdout: '', stderr: '' });
    requests.push(request);
    const args = request.args;
    // A plain (non-terminal) docker pull ends with status lines that name the digest.
    const fallback =
      args[0] === 'image' && args[3] === '{{json .Size}}'
        ? { stdout: args.slice(4).map(() => '12345678\n').join('') }
        : args[0] === 'image'
        ? { stdout: JSON.stringify([`${args.at(-1)?.replace(/:[^:/]+$/, '')}@${DIGEST}`]) }
        : args[0] === 'pull'
          ? { stdout: `1: Pulling from x\nabc: Pull complete\nDigest: ${DIGEST}\nStatus: Downloaded newer image for ${args.at(-1) ?? ''}\n${args.at(-1) ?? ''}\n` }
          : {};
    return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', ...fallback, ...answer(args) });
  };
  return { run, requests };
}

/** A fake Docker Hub for the budget line. */
const fakeHub: Fetch = (_url, init) =>
  Promise.resolve({
    status: 200,
    headers: { get: (name: string) => (init.method === 'HEAD' ? ({ 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '42;w=21600' } as Record<string, string>)[name] ?? null : null) },
    text: () => Promise.resolve('{"token":"tok-123456"}'),
  });

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const reporter = new Reporter(new Redactor(), { write: (t) => out.push(t) }, { write: (t) => err.push(t) });
  return { reporter, out, err };
}

const instant = { sleep: () => Promise.resolve(), random: () => 0 };

/** The step as the build wires it: runCommand is the only catch. */
async function step(env: Record<string, string>, deps: PullMainDeps) {
  const { reporter, out, err } = capture();
  const code = await runCommand('pull', (e, r) => main(e, r, deps), env, reporter);
  // Every step starts with the version header; the lines after it are pull's own.
  expect(out.shift()).toBe('regauth: regauth/pull dev\n');
  return { code, out, err };
}

describe('regauth/pull main', () => {
  it('prints the budget, one line per image and the table, and exits 0', async () => {
    const docker = fakeDocker();
    const { code, out, err } = await step({ REGAUTH_IMAGES: 'postgres:16 ghcr.io/a/b:1', DOCKER_HOST: 'unix:///tmp/d.sock', HOME: '/nonexistent' }, { runProcess: docker.run, fetch: fakeHub, retry: instant });
    expect(code).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toBe("regauth: Docker Hub pull budget: 42 of 100 pulls left per 6 hours (anonymous: counted against this job's IP address)\n");
    expect(out.slice(1, 3).sort()).toEqual([expect.stringMatching(/^✔ docker.io\/library\/postgres:16 sha256:cccccccccccc…/), expect.stringMatching(/^✔ ghcr.io\/a\/b:1 /)].sort());
    expect(out[3]).toMatch(/^IMAGE +DIGEST +SECONDS +SIZE +ATTEMPTS\n$/);
    expect(out.slice(4)).toEqual([
      expect.stringMatching(new RegExp(`^docker.io/library/postgres:16  ${DIGEST} +\\d+\\.\\d +12\\.3MB +1\n$`)),
      expect.stringContaining(`ghcr.io/a/b:1                  ${DIGEST}`),
      expect.stringMatching(/^total: 2 of 2 images, 24\.7 MB in \d+\.\d s\n$/),
      // Without a terminal docker prints no sizes, and Docker Hub's manifests are not read.
      expect.stringMatching(/^regauth: pulled in \d+\.\d s; bytes downloaded unknown/),
    ]);
    // docker gets the user's environment (DOCKER_HOST); never a shell. Its status lines stay
    // in regauth: only the digest is taken from them, so no `image inspect` follows.
    const pulls = docker.requests.filter((r) => r.args[0] === 'pull');
    expect(pulls.map((r) => r.args)).toEqual([
      ['pull', 'docker.io/library/postgres:16'],
      ['pull', 'ghcr.io/a/b:1'],
    ]);
    expect(pulls.every((r) => r.command === 'docker' && r.env?.DOCKER_HOST === 'unix:///tmp/d.sock')).toBe(true);
    expect(docker.requests.filter((r) => r.args[0] !== 'pull' && r.args[3] !== '{{json .Size}}')).toEqual([]);
    expect(out.join('')).not.toMatch(/Pull complete|Status:/);
  });

  it('asks docker image inspect for the digest when the pull output names none', async () => {
    const docker = fakeDocker((args) => (args[0] === 'pull' ? { stdout: '' } : {}));
    const { code, out } = await step({ REGAUTH_IMAGES: 'ghcr.io/a/b:1' }, { runProcess: docker.run, retry: instant });
    expect(code).toBe(0);
    expect(docker.requests.map((r) => r.args)).toEqual([
      ['pull', 'ghcr.io/a/b:1'],
      ['image', 'inspect', '--format', '{{json .RepoDigests}}', 'ghcr.io/a/b:1'],
      ['image', 'inspect', '--format', '{{json .Size}}', 'ghcr.io/a/b:1'],
    ]);
    expect(out.at(-3)).toContain(`ghcr.io/a/b:1  ${DIGEST}`);
  });

  it('skips the budget line when no Docker Hub image is involved, or a mirror serves them', async () => {
    for (const env of [{ REGAUTH_IMAGES: 'ghcr.io/a/b:1' }, { REGAUTH_IMAGES: 'redis', REGAUTH_MIRROR: 'mirror.example.com/hub' }]) {
      let fetched = false;
      const fetch: Fetch = (url, init) => {
        fetched = true;
        return fakeHub(url, init);
      };
      const { code, out } = await step(env, { runProcess: fakeDocker().run, fetch, retry: instant });
      expect(code).toBe(0);
      expect(fetched).toBe(false);
      expect(out.some((line) => line.startsWith('Docker Hub pull budget'))).toBe(false);
    }
  });

  it('passes --platform through', async () => {
    const docker = fakeDocker();
    await step({ REGAUTH_IMAGES: 'ghcr.io/a/b:1', REGAUTH_PLATFORM: 'linux/arm64/v8' }, { runProcess: docker.run, retry: instant });
    expect(docker.requests[0]?.args).toEqual(['pull', '--platform', 'linux/arm64/v8', 'ghcr.io/a/b:1']);
  });

  it('exits 1 naming every image that could not be pulled, and why', async () => {
    const stderr: Record<string, string> = {
      'ghcr.io/a/bad:1': 'Error response from daemon: manifest unknown: manifest unknown\n',
      'ghcr.io/a/worse:2': 'Error response from daemon: unauthorized: authentication required\n',
    };
    const docker = fakeDocker((args) => {
      const failure = args[0] === 'pull' ? stderr[args.at(-1) ?? ''] : undefined;
      return failure === undefined ? {} : { exitCode: 1, stderr: failure };
    });
    const { code, err } = await step({ REGAUTH_IMAGES: 'ghcr.io/a/bad:1,ghcr.io/a/good:1,ghcr.io/a/worse:2' }, { runProcess: docker.run, retry: instant });
    expect(code).toBe(1);
    expect(err).toEqual([
      'regauth: pull: could not pull 2 of 3 images: ghcr.io/a/bad:1 (the image or tag does not exist (manifest unknown), after 1 attempt); ' +
        'ghcr.io/a/worse:2 (the registry refused access — log in first (regauth/login or regauth/ecr-oidc-login) with an account that may pull it, after 1 attempt)\n',
    ]);
  });

  it('shows the budget again after a Docker Hub rate limit', async () => {
    const docker = fakeDocker((args) => (args[0] === 'pull' ? { exitCode: 1, stderr: 'Error response from daemon: toomanyrequests: You have reached your pull rate limit.\n' } : {}));
    const { code, out } = await step({ REGAUTH_IMAGES: 'redis', REGAUTH_MAX_ATTEMPTS: '2', HOME: '/nonexistent' }, { runProcess: docker.run, fetch: fakeHub, retry: instant });
    expect(code).toBe(1);
    expect(out.filter((line) => line.startsWith('regauth: Docker Hub pull budget'))).toHaveLength(2);
    expect(docker.requests.filter((r) => r.args[0] === 'pull')).toHaveLength(2);
  });

  it('asks the registry for its Retry-After after a 429 and waits that long', async () => {
    let pulls = 0;
    const docker = fakeDocker((args) => (args[0] === 'pull' && ++pulls === 1 ? { exitCode: 1, stderr: 'Error response from daemon: toomanyrequests: too many requests\n' } : {}));
    const asked: string[] = [];
    const registry: Fetch = (url, init) => {
      asked.push(`${init.method} ${url} ${init.headers.authorization ?? '-'}`);
      const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name.toLowerCase()] ?? null });
      if (init.method === 'GET') return Promise.resolve({ status: 200, headers: headers({}), text: () => Promise.resolve('{"token":"probe-token-1"}') });
      if (init.headers.authorization === undefined) {
        return Promise.resolve({ status: 401, headers: headers({ 'www-authenticate': 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"' }), text: () => Promise.resolve('') });
      }
      return Promise.resolve({ status: 429, headers: headers({ 'retry-after': '4' }), text: () => Promise.resolve('') });
    };
    const sleeps: number[] = [];
    const { code, out } = await step(
      { REGAUTH_IMAGES: 'ghcr.io/a/b:1', HOME: '/nonexistent' },
      { runProcess: docker.run, fetch: registry, retry: { sleep: (ms) => (sleeps.push(ms), Promise.resolve()), random: () => 0 } },
    );
    expect(code).toBe(0);
    expect(asked).toEqual([
      'HEAD https://ghcr.io/v2/a/b/manifests/1 -',
      'GET https://ghcr.io/token?service=ghcr.io&scope=repository%3Aa%2Fb%3Apull -',
      'HEAD https://ghcr.io/v2/a/b/manifests/1 Bearer probe-token-1',
    ]);
    expect(sleeps).toEqual([4000]);
    expect(out[0]).toBe('… ghcr.io/a/b:1: attempt 1 of 5 failed (rate limited by the registry (429 toomanyrequests)); the registry asked to wait 4 s; retrying in 4.0 s\n');
  });

  it('exits 2 on bad input, before running anything', async () => {
    const docker = fakeDocker();
    const { code, err } = await step({ REGAUTH_IMAGES: 'redis, Bad/Image:1, ;x' }, { runProcess: docker.run, retry: instant });
    expect(code).toBe(2);
    expect(err).toEqual(['regauth: pull: parameter images: item ";x" contains the shell metacharacter ";", which no valid value has\n']);
    expect(docker.requests).toEqual([]);
  });

  it('says how to get docker when it is missing', async () => {
    const { ProcessStartError } = await import('../../../src/core/process.ts');
    const run: RunProcess = () => Promise.reject(new ProcessStartError('docker', 'ENOENT'));
    const { code, err } = await step({ REGAUTH_IMAGES: 'ghcr.io/a/b:1' }, { runProcess: run, retry: instant });
    expect(code).toBe(1);
    expect(err[0]).toMatch(/ghcr.io\/a\/b:1 \(docker was not found on PATH — run the job on a machine executor, or add setup_remote_docker before this step, after 1 attempt\)/);
  });
});

describe('pickRepoDigest', () => {
  const ref = parseReference('postgres:16');
  it.each([
    [JSON.stringify([`postgres@${DIGEST}`]), DIGEST],
    [JSON.stringify([`mirror.example.com/hub/library/postgres@sha256:${'d'.repeat(64)}`, `postgres@${DIGEST}`]), DIGEST],
    [JSON.stringify([`mirror.example.com/hub/library/postgres@${DIGEST}`]), DIGEST],
    ['[]', undefined],
    ['null', undefined],
    ['', undefined],
    ['not json', undefined],
    [JSON.stringify(['garbage', 42]), undefined],
  ])('%s', (output, expected) => {
    expect(pickRepoDigest(output, ref)).toBe(expected);
  });
});

describe('digestFromPullOutput', () => {
  const other = `sha256:${'d'.repeat(64)}`;
  it.each([
    [`v1: Pulling from x/y\nabc: Pull complete\nDigest: ${DIGEST}\nStatus: Downloaded newer image for r/x/y:v1\nr/x/y:v1\n`, DIGEST],
    [`v1: Pulling from x/y\nDigest: ${DIGEST}\nStatus: Image is up to date for r/x/y:v1\n`, DIGEST],
    [`Digest: ${other}\r\nDigest: ${DIGEST}\r\n`, DIGEST],
    ['r/x/y:v1\n', undefined],
    ['', undefined],
    [`abc: Digest: ${DIGEST}\n`, undefined],
    ['Digest: sha256:short\n', undefined],
  ])('%j', (stdout, expected) => {
    expect(digestFromPullOutput(stdout)).toBe(expected);
  });
});

describe('failureOutput', () => {
  it('takes docker\u2019s stderr, not the status lines that name the image', () => {
    expect(failureOutput('v1: Pulling from app/error-pages\n', 'Error response from daemon: manifest unknown\n')).toBe('Error response from daemon: manifest unknown\n');
  });

  it('falls back to stdout when stderr is empty', () => {
    expect(failureOutput('something broke\n', ' \n')).toBe('something broke\n');
  });
});
