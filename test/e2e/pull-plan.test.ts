import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { removeAllImages, startEngine, type Engine } from '../../testbed/engine.ts';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../../testbed/fault-proxy.ts';
import { seedImages } from '../../testbed/images.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, type JobContext, type Orb } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * The pull plan through the packed orb, a real engine and a real registry behind the fault proxy.
 * With `concurrency: 1` the order of docker's pulls is the order of its HEADs of the tags (regauth
 * reads manifests with GET and sends no HEAD unless a pull failed), so the order can be checked.
 */
const enabled = requireTools(['dockerd', 'docker', 'docker-registry', 'skopeo', 'htpasswd']);

const USER = 'plan';
const PASSWORD = 'pull-plan-pw-92ab';
// Listed smallest first, as a user might: the plan should start the biggest.
const NAMES = ['plan/small', 'plan/medium', 'plan/large'];
const SIZES = [0, 1_000_000, 4_000_000];

describe.runIf(enabled)('regauth/pull plans its order from the manifests, and pulls as given when it cannot', () => {
  let orb: Orb;
  let engine: Engine;
  let registry: Registry;
  let proxy: FaultProxy;
  let job: JobContext;
  const stops: Array<() => Promise<void>> = [];
  let refs: string[] = [];

  /** Repositories in the order docker started pulling them. */
  const pullOrder = (requests: readonly ProxiedRequest[]): string[] =>
    requests.filter((r) => r.method === 'HEAD' && r.kind === 'manifests' && r.path.split('?')[0]?.endsWith('/manifests/v1')).map((r) => r.image ?? '');

  beforeAll(async () => {
    orb = loadOrb();
    [engine, registry] = await Promise.all([startEngine(), startRegistry({ auth: 'htpasswd', tls: false, users: { [USER]: PASSWORD } })]);
    stops.push(() => engine.stop(), () => registry.stop());
    proxy = await startFaultProxy({ target: registry.url });
    stops.push(() => proxy.stop());
    await seedImages(registry, NAMES.map((name, index) => ({ name, tag: 'v1', sizeBytes: SIZES[index] ?? 0 })));
    refs = NAMES.map((name) => `${proxy.host}/${name}:v1`);
    job = newJob({ DOCKER_HOST: engine.dockerHost, REG_USER: USER, REG_PASS: PASSWORD });
    job.env.DOCKER_CONFIG = join(job.cwd, 'docker-config');
    const login = await runOrbCommand(orb, 'login', { registry: proxy.host, username: 'REG_USER', password: 'REG_PASS' }, job);
    expect(login.exitCode, login.stderr).toBe(0);
  });

  afterEach(async () => {
    proxy.clearRules();
    await removeAllImages(engine);
  });

  afterAll(async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  });

  it('makes no plan, and reads nothing, when every pull starts at once', async () => {
    const from = proxy.requests.length;
    const result = await runOrbCommand(orb, 'pull', { images: refs.join(' '), concurrency: 3 }, job);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(/pull plan/);
    // Only docker's own manifest requests: a HEAD of each tag, then its GET by digest.
    expect(proxy.requests.slice(from).filter((r) => r.kind === 'manifests' && r.method === 'GET' && !/\/manifests\/sha256:/.test(r.path))).toEqual([]);
  });

  it('reads every manifest with the saved login and starts the biggest download first', async () => {
    const from = proxy.requests.length;
    const result = await runOrbCommand(orb, 'pull', { images: refs.join(' '), concurrency: 1 }, job);
    expect(result.exitCode, result.stderr).toBe(0);
    const requests = proxy.requests.slice(from);
    expect(pullOrder(requests)).toEqual(['plan/large', 'plan/medium', 'plan/small']);
    // The shared busybox layer is counted once; the line names it.
    expect(result.stdout).toMatch(/^regauth: pull plan: biggest download first; [\d.]+ MB to download, 1 shared layer counted once$/m);
    expect(result.stdout).toMatch(/^regauth: downloaded [\d.]+ MB in \d+\.\d s \([\d.]+ [kM]B\/s\)$/m);
    // The plan's reads were authorised GETs that the registry answered.
    expect(requests.filter((r) => r.method === 'GET' && r.kind === 'manifests' && r.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it('pulls in the order given, and succeeds, when a manifest request fails', async () => {
    // The first GET of the large image's manifest is regauth's read; docker's own come later.
    const rule = proxy.addRule({ image: 'plan/large', fault: '503', method: 'GET', times: 1 });
    const from = proxy.requests.length;
    const result = await runOrbCommand(orb, 'pull', { images: refs.join(' '), concurrency: 1 }, job);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(rule.hits()).toBe(1);
    expect(pullOrder(proxy.requests.slice(from))).toEqual(NAMES);
    expect(result.stdout).not.toMatch(/pull plan/);
    for (const ref of refs) expect(result.stdout).toMatch(new RegExp(`^✔ ${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'm'));
  });

  it('reports a pull of images the engine already holds as a no-op, with no bytes', async () => {
    const first = await runOrbCommand(orb, 'pull', { images: refs.join(' ') }, job);
    expect(first.exitCode, first.stderr).toBe(0);
    const again = await runOrbCommand(orb, 'pull', { images: refs.join(' '), concurrency: 2 }, job);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^regauth: nothing downloaded in \d+\.\d s: every image was already up to date$/m);
    // docker's byte counts, not the plan's (which uses the engine's held digests only when docker
    // answered first), say what was downloaded: nothing.
    expect(again.stdout).not.toMatch(/^regauth: downloaded /m);
  });
});
