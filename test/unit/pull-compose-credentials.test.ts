import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/core/output.ts';
import type { ProcessRequest, RunProcess } from '../../src/core/process.ts';
import { buildOnlyImages, composeArgs, composeImages, NO_COMPOSE_LINE, parseComposeImages } from '../../src/pull/compose.ts';
import { goQuoted, helperFor, registerDockerCredentials, savedSecrets, secretForms } from '../../src/pull/credentials.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pullDocker, PULL_WATCH_TICK_MS } from '../../src/pull/docker-pull.ts';
import { budgetWarning } from '../../src/pull/ratelimit.ts';
import { PullStalled, stallDeadlineMs } from '../../src/pull/stall.ts';
import { classifyPullError } from '../../src/pull/classify.ts';
import { readPullInputs, parseNoOutputTimeout } from '../../src/inputs/pull.ts';
import { fakeClock } from '../support/fake-clock.ts';

const file = { isFile: () => true };

describe('compose_files', () => {
  it('passes absolute files glued to --file, so none reads as a flag', () => {
    expect(composeArgs(['/w/a.yml', '/w/-b.yml'])).toEqual(['compose', '--file=/w/a.yml', '--file=/w/-b.yml', 'config', '--images']);
  });

  it('reads the images compose lists, in order, once each', async () => {
    const requests: ProcessRequest[] = [];
    const run: RunProcess = (request) => {
      requests.push(request);
      return Promise.resolve({ exitCode: 0, stdout: 'redis:7\nghcr.io/a/b:1\nredis:7\n', stderr: '' });
    };
    const { images } = await composeImages(['one.yml', 'sub/two.yml'], { run, env: { X: '1' }, cwd: '/work', stat: () => Promise.resolve(file) });
    expect(images.map((ref) => ref.normalized)).toEqual(['docker.io/library/redis:7', 'ghcr.io/a/b:1']);
    expect(requests[0]).toMatchObject({ command: 'docker', args: ['compose', '--file=/work/one.yml', '--file=/work/sub/two.yml', 'config', '--images'], env: { X: '1' } });
    // The model as JSON, to tell built services apart (this fake answers it with the list: no model).
    expect(requests[1]?.args).toEqual(['compose', '--file=/work/one.yml', '--file=/work/sub/two.yml', 'config', '--format', 'json']);
  });

  it('leaves out the services compose builds rather than pulls', async () => {
    const model = JSON.stringify({ name: 'shop', services: { web: { build: { context: '.' } }, db: { image: 'postgres:16' }, tagged: { build: { context: '.' }, image: 'ghcr.io/a/web:1' } } });
    const run: RunProcess = (request) =>
      Promise.resolve({ exitCode: 0, stdout: request.args.includes('json') ? model : 'shop-web\npostgres:16\nghcr.io/a/web:1\n', stderr: '' });
    const result = await composeImages(['c.yml'], { run, env: {}, cwd: '/w', stat: () => Promise.resolve(file) });
    expect(result.images.map((ref) => ref.normalized)).toEqual(['docker.io/library/postgres:16', 'ghcr.io/a/web:1']);
    // The stubbed file cannot be read, so the name is not known to be written out: counted, not shown.
    expect([result.built, result.builtUnnamed]).toEqual([[], 1]);
    expect(buildOnlyImages('not json').size).toBe(0);
  });

  it('fails with one line for a missing file, before running anything', async () => {
    let ran = false;
    const run: RunProcess = () => {
      ran = true;
      return Promise.reject(new Error('not reached'));
    };
    await expect(composeImages(['nope.yml'], { run, env: {}, cwd: '/work', stat: () => Promise.reject(new Error('ENOENT')) })).rejects.toThrow(
      `parameter compose_files: "nope.yml" does not exist (looked for /work/nope.yml); check the path, which is relative to the step's working directory`,
    );
    expect(ran).toBe(false);
  });

  it.each(['docker: unknown command: docker compose\n\nRun \'docker --help\' for more information\n', "docker: 'compose' is not a docker command.\nSee 'docker --help'\n"])(
    'fails with one line when the compose plugin is missing (%#)',
    async (stderr) => {
      const run: RunProcess = () => Promise.resolve({ exitCode: 1, stdout: '', stderr });
      await expect(composeImages(['a.yml'], { run, env: {}, cwd: '/w', stat: () => Promise.resolve(file) })).rejects.toThrow(NO_COMPOSE_LINE);
    },
  );

  it('refuses an image compose names that is no valid reference, quoting it only when the files hold it as written', () => {
    expect(() => parseComposeImages('ok:1\n-bad\n', () => ({ literal: true, templates: [] }))).toThrow(/^compose_files: docker compose names an image regauth will not pull, "-bad"/);
    // Resolved from a variable holding a secret: where it came from, never a piece of it.
    const secret = 's3cr3t+Value';
    let message = '';
    try {
      parseComposeImages(`ok:1\nreg.example.com/app:${secret}\n`, () => ({ literal: false, templates: ['compose.yml: image: "reg.example.com/app:${API_KEY}"'] }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'compose_files: docker compose names an image regauth will not pull (image 2 of its list, resolved by compose from compose.yml: image: "reg.example.com/app:${API_KEY}"; ' +
        'not shown, as a variable may hold a secret): the tag (not shown) may only contain letters, digits, "_", "." and "-", and must not start with "." or "-"',
    );
    expect(message.toLowerCase()).not.toContain('s3cr3t');
  });
});

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

describe('the stall deadline', () => {
  const clock = fakeClock;

  it('ends a docker pull that stays silent, through the process wrapper, and counts it transient', async () => {
    const time = clock();
    let request: ProcessRequest | undefined;
    const run: RunProcess = (req) =>
      new Promise((resolve) => {
        request = req;
        req.onOutput?.('v1: Pulling from x\n', 'stdout');
        req.signal?.addEventListener('abort', () => resolve({ exitCode: 143, stdout: '', stderr: '' }));
      });
    const docker = pullDocker(run, {}, { clock: time, stallMs: 60_000, terminal: true });
    const pulled = docker.pull('r/x:v1', undefined);
    const failed = pulled.catch((error: unknown) => error);
    time.advance(30_000);
    request?.onOutput?.('abc123abc123: Downloading  1MB/2MB\r', 'stdout');
    time.advance(59_000);
    expect(request?.signal?.aborted).toBe(false);
    time.advance(1_000 + PULL_WATCH_TICK_MS);
    expect(request?.signal?.aborted).toBe(true);
    const error = await failed;
    expect(error).toBeInstanceOf(PullStalled);
    expect(classifyPullError(error)).toMatchObject({ kind: 'transient', reason: 'docker pull made no progress for 60 s (no bytes, no output), so regauth ended it' });
    // On a terminal: a constant command, the reference in the environment.
    expect(request).toMatchObject({ command: 'script', args: ['-q', '-e', '-f', '-c', expect.stringContaining('"$REGAUTH_PULL_REFERENCE"'), '/dev/null'], env: { REGAUTH_PULL_REFERENCE: 'r/x:v1' } });
  });

  it('is a minute on a terminal, ten without one, and REGAUTH_PULL_STALL_SECONDS overrides it', () => {
    expect(stallDeadlineMs({}, true)).toBe(60_000);
    expect(stallDeadlineMs({}, false)).toBe(600_000);
    expect(stallDeadlineMs({ REGAUTH_PULL_STALL_SECONDS: '5' }, true)).toBe(5_000);
    expect(stallDeadlineMs({ REGAUTH_PULL_STALL_SECONDS: 'soon' }, true)).toBe(60_000);
  });
});

describe('pull parameters added for long jobs', () => {
  it.each([
    ['90s', 90_000],
    ['20m', 1_200_000],
    ['1h', 3_600_000],
    ['1.25h', 4_500_000],
  ])('no_output_timeout %s is %i ms', (value, ms) => {
    expect(parseNoOutputTimeout(value)).toBe(ms);
    expect(readPullInputs({ REGAUTH_IMAGES: 'redis', REGAUTH_NO_OUTPUT_TIMEOUT: value }).noOutputTimeoutMs).toBe(ms);
  });

  it.each(['10', '10 m', '1h30m', '0s', '5d', '-5m'])('refuses no_output_timeout %s before anything runs', (value) => {
    expect(() => readPullInputs({ REGAUTH_IMAGES: 'redis', REGAUTH_NO_OUTPUT_TIMEOUT: value })).toThrow(/^parameter no_output_timeout: (must be a number with a unit|contains)/);
  });

  it('takes comma-separated compose files, and lets images be empty with them', () => {
    expect(readPullInputs({ REGAUTH_IMAGES: '', REGAUTH_COMPOSE_FILES: 'a.yml, ci/b.yml ,a.yml' })).toMatchObject({ images: [], composeFiles: ['a.yml', 'ci/b.yml'] });
    expect(() => readPullInputs({ REGAUTH_IMAGES: '', REGAUTH_COMPOSE_FILES: 'a.yml;rm' })).toThrow(/^parameter compose_files: contains/);
    expect(() => readPullInputs({ REGAUTH_IMAGES: '' })).toThrow(/^parameter images: is empty/);
  });
});

describe('budgetWarning', () => {
  it('warns only when the budget cannot cover the Docker Hub pulls', () => {
    expect(budgetWarning(10, 3)).toBeUndefined();
    expect(budgetWarning(undefined, 3)).toBeUndefined();
    expect(budgetWarning(1, 3)).toBe(
      'warning: Docker Hub pull budget: only 1 left and this step makes 3 Docker Hub pulls (one per image and architecture): 2 may be refused (429 toomanyrequests); log in with regauth/login (a higher limit) or set mirror',
    );
  });
});
