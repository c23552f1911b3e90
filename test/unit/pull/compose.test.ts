import { describe, expect, it } from 'vitest';
import type { ProcessRequest, RunProcess } from '../../../src/core/process.ts';
import { buildOnlyImages, composeArgs, composeImages, NO_COMPOSE_LINE, parseComposeImages } from '../../../src/pull/compose.ts';

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
