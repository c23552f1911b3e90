import { lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type Engine } from '../../testbed/engine.ts';
import { startFaultProxy, type FaultProxy } from '../../testbed/fault-proxy.ts';
import { seedImage, type SeededImage } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd', 'openssl']);
const PASSWORD = 'canary-registry-pw-7f3a9c';

describe.runIf(enabled)('regauth/login and regauth/logout against a real registry and engine', () => {
  let orb: Orb;
  let engine: Engine;
  let registry: Registry;
  let tokenRegistry: Registry;
  let image: SeededImage;
  let tokenImage: SeededImage;

  beforeAll(async () => {
    orb = loadOrb();
    [engine, registry, tokenRegistry] = await Promise.all([
      startEngine(),
      startRegistry({ auth: 'htpasswd', users: { ci: PASSWORD } }),
      startRegistry({ auth: 'token', users: { robot: PASSWORD } }),
    ]);
    [image, tokenImage] = await Promise.all([seedImage(registry, { name: 'app/api', tag: '1.4.2' }), seedImage(tokenRegistry, { name: 'team/tool', tag: 'v1' })]);
  });

  afterAll(async () => {
    await Promise.all([engine?.stop(), registry?.stop(), tokenRegistry?.stop()]);
  });

  function job(extra: Record<string, string> = {}): JobContext {
    const context = newJob({ DOCKER_HOST: engine.dockerHost, REG_USER: 'ci', REG_PASS: PASSWORD, ...extra });
    context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
    return context;
  }

  const pull = (context: JobContext, ref: string) => runUserStep(context, `docker pull -q "$IMAGE"`, { IMAGE: ref });

  it('logs in so that docker pull works through the daemon, and logout makes it refused again', async () => {
    const context = job();
    const before = await pull(context, image.ref);
    // Refused: dockerd reports its last endpoint's error (plain HTTP to a TLS port on loopback).
    expect(before.exitCode).not.toBe(0);

    const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    expect(login.stdout).toContain(`regauth: logged in to ${registry.host} as ci`);
    const pulled = await pull(context, image.ref);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    const inspect = await runUserStep(context, `docker image inspect --format '{{json .RepoDigests}}' "$IMAGE"`, { IMAGE: image.ref });
    expect(inspect.stdout).toContain(image.digest);

    const logout = await runOrbCommand(orb, 'logout', {}, context);
    expect(logout.exitCode, logout.stderr).toBe(0);
    expect(logout.stdout).toContain(`regauth: logged out of ${registry.host}`);
    await runUserStep(context, 'docker rmi -f "$IMAGE" >/dev/null', { IMAGE: image.ref });
    const after = await pull(context, image.ref);
    expect(after.exitCode).not.toBe(0);
    const config = JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as { auths?: Record<string, unknown> };
    expect(Object.keys(config.auths ?? {})).not.toContain(registry.host);
  });

  it('logs in to a registry that uses token auth', async () => {
    const context = job({ ROBOT_USER: 'robot', ROBOT_TOKEN: PASSWORD });
    const login = await runOrbCommand(orb, 'login', { registry: tokenRegistry.host, username: 'ROBOT_USER', password: 'ROBOT_TOKEN' }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    const pulled = await pull(context, tokenImage.ref);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
  });

  it('fails a wrong password at once with one line, and prints no password', async () => {
    const wrong = 'canary-wrong-pw-1b2c3d';
    const context = job({ REG_PASS: wrong });
    const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
    expect(login.exitCode).toBe(1);
    const lines = login.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^regauth: login: could not log in to ${registry.host.replace('.', '\\.')} as ci: the registry refused the credentials`));
    expect(login.stdout).not.toContain('retrying');
    expect(`${login.stdout}${login.stderr}`).not.toContain(wrong);
    expect(registry.readLog().match(/GET \/v2\/ HTTP/g)?.length ?? 0).toBeGreaterThan(0);
  });

  it('logs in when no daemon answers (the CLI checks the credentials itself)', async () => {
    const context = job({ DOCKER_HOST: `unix://${join('/tmp', 'regauth-no-daemon.sock')}` });
    const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(config.auths[registry.host]?.auth ?? '', 'base64').toString()).toBe(`ci:${PASSWORD}`);
  });

  it('keeps secrets out of $BASH_ENV and writes the config 0600 in a 0700 directory', async () => {
    const context = job();
    const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    expect(readFileSync(context.bashEnvFile, 'utf8')).not.toContain(PASSWORD);
    const dir = context.env.DOCKER_CONFIG ?? '';
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(`${login.stdout}${login.stderr}`).not.toContain(PASSWORD);
  });

  it('leaves entries it did not write alone, and logout removes only its own', async () => {
    const context = job();
    const dir = context.env.DOCKER_CONFIG ?? '';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const foreign = { auths: { 'other.example.com': { auth: Buffer.from('u:p').toString('base64') } }, psFormat: 'table {{.ID}}' };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(foreign), { mode: 0o600 });
    expect((await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context)).exitCode).toBe(0);
    expect((await runOrbCommand(orb, 'logout', {}, context)).exitCode).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as typeof foreign;
    expect(config.auths).toEqual(foreign.auths);
    expect(config.psFormat).toBe(foreign.psFormat);
  });

  it('logs out of only the registries named', async () => {
    const context = job({ ROBOT_USER: 'robot', ROBOT_TOKEN: PASSWORD });
    expect((await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context)).exitCode).toBe(0);
    expect((await runOrbCommand(orb, 'login', { registry: tokenRegistry.host, username: 'ROBOT_USER', password: 'ROBOT_TOKEN' }, context)).exitCode).toBe(0);
    const logout = await runOrbCommand(orb, 'logout', { registries: tokenRegistry.host }, context);
    expect(logout.exitCode, logout.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
    expect(Object.keys(config.auths)).toEqual([registry.host]);
  });

  it('steers docker around a credential helper that is not installed, and undoes it at logout', async () => {
    const context = job();
    const dir = context.env.DOCKER_CONFIG ?? '';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'regauth-test-missing' }), { mode: 0o600 });
    const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
    expect(login.exitCode, login.stderr).toBe(0);
    expect(login.stdout).toContain('credential helper docker-credential-regauth-test-missing is configured but not installed');
    const pulled = await pull(context, image.ref);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect((await runOrbCommand(orb, 'logout', {}, context)).exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual({ auths: {}, credsStore: 'regauth-test-missing' });
  });

  it('refuses to write through a config.json that is a symbolic link', async () => {
    const context = job();
    const dir = context.env.DOCKER_CONFIG ?? '';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await runUserStep(context, 'echo "{}" > "$DOCKER_CONFIG/target.json" && ln -s target.json "$DOCKER_CONFIG/config.json"');
    const login = await runOrbCommand(orb, 'login', { registry: registry.host, username: 'REG_USER', password: 'REG_PASS' }, context);
    expect(login.exitCode).toBe(1);
    expect(login.stderr).toContain('is a symbolic link');
    expect(readFileSync(join(dir, 'target.json'), 'utf8').trim()).toBe('{}');
    expect(lstatSync(join(dir, 'config.json')).isSymbolicLink()).toBe(true);
  });

  describe('eight logins into one docker config at once', () => {
    let proxies: FaultProxy[] = [];
    beforeAll(async () => {
      proxies = await Promise.all(Array.from({ length: 8 }, () => startFaultProxy({ target: registry.url, caFile: registry.caFile })));
    });
    afterAll(async () => {
      await Promise.all(proxies.map((proxy) => proxy.stop()));
    });

    it('loses no entry', async () => {
      const context = job({ DOCKER_HOST: `unix://${join('/tmp', 'regauth-no-daemon.sock')}` });
      const results = await Promise.all(proxies.map((proxy) => runOrbCommand(orb, 'login', { registry: proxy.host, username: 'REG_USER', password: 'REG_PASS' }, context)));
      for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
      const config = JSON.parse(readFileSync(join(context.env.DOCKER_CONFIG ?? '', 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
      expect(Object.keys(config.auths).sort()).toEqual(proxies.map((proxy) => proxy.host).sort());
      const logout = await runOrbCommand(orb, 'logout', {}, context);
      expect(logout.stdout.match(/logged out of/g)).toHaveLength(8);
    });
  });
});
