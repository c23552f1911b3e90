/**
 * A real, private dockerd for integration tests: own data-root, exec-root and unix socket under a
 * short /tmp directory, no bridge, no iptables, no ip forwarding; stopped by its own pid.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { runProcess, type ProcessResult } from '../src/core/process.ts';
import { waitFor } from './ports.ts';
import { adoptPid, makeTempDir, pidAlive, startDaemon, type Daemon, type TempDir } from './tempdir.ts';

export type StorageDriver = 'overlay2' | 'vfs';

export interface EngineOptions {
  /** Default overlay2, falling back to vfs when overlay2 cannot start here. */
  storageDriver?: StorageDriver;
  /** More dockerd flags, e.g. a TCP listener with TLS (test/support/docker-tls.ts). */
  extraArgs?: readonly string[];
}

export interface Engine {
  /** `unix:///tmp/regauth-eng-XXXXXX/docker.sock` */
  dockerHost: string;
  socketPath: string;
  /** A private, initially empty DOCKER_CONFIG directory (never ~/.docker). */
  dockerConfig: string;
  /** Environment for docker CLI commands against this engine. */
  env: { DOCKER_HOST: string; DOCKER_CONFIG: string };
  storageDriver: StorageDriver;
  pid: number;
  logFile: string;
  /** Runs the docker CLI against this engine with env (secrets only through stdin). */
  docker(args: readonly string[], options?: { stdin?: string; env?: NodeJS.ProcessEnv }): Promise<ProcessResult>;
  /** A call to the Engine API over the socket; body parsed as JSON when it is JSON. */
  api(method: string, path: string): Promise<{ status: number; body: unknown }>;
  readLog(): string;
  stop(): Promise<void>;
}

export interface EngineImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

/** The dockerd command line (pure). */
export function dockerdArgs(dir: string, storageDriver: StorageDriver): string[] {
  return [
    // An empty config file of our own, so /etc/docker/daemon.json never applies.
    '--config-file', join(dir, 'daemon.json'),
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--host', `unix://${join(dir, 'docker.sock')}`,
    '--pidfile', join(dir, 'docker.pid'),
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--ip-forward=false',
    `--storage-driver=${storageDriver}`,
  ];
}

/** Environment for a docker CLI: the caller's, minus any DOCKER_* that could point elsewhere. */
export function dockerEnv(base: NodeJS.ProcessEnv, own: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(base).filter(([name]) => !name.startsWith('DOCKER_')));
  return { ...env, ...own };
}

function apiCall(socketPath: string, method: string, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { host: 'docker' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        if ((res.headers['content-type'] ?? '').includes('json') && text !== '') body = JSON.parse(text) as unknown;
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Launch {
  temp: TempDir;
  daemon: Daemon;
  socketPath: string;
  logFile: string;
}

async function launch(storageDriver: StorageDriver, extraArgs: readonly string[] = []): Promise<Launch> {
  const temp = makeTempDir('regauth-eng-');
  const dir = temp.path;
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const socketPath = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const daemon = startDaemon({ command: 'dockerd', args: [...dockerdArgs(dir, storageDriver), ...extraArgs], logFile });
  try {
    await waitFor(
      async () => {
        const { status } = await apiCall(socketPath, 'GET', '/_ping');
        return status === 200 ? true : undefined;
      },
      {
        what: `dockerd (${storageDriver}) to answer on ${socketPath}`,
        abort: () => (daemon.hasExited() ? new Error(`dockerd (${storageDriver}) exited during startup:\n${daemon.logTail()}`) : undefined),
      },
    );
    return { temp, daemon, socketPath, logFile };
  } catch (error) {
    await daemon.stop();
    await temp.remove();
    throw error;
  }
}

function containerdPid(dir: string): number | undefined {
  const file = join(dir, 'exec', 'containerd', 'containerd.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export async function startEngine(options: EngineOptions = {}): Promise<Engine> {
  const started = Date.now();
  let storageDriver: StorageDriver = options.storageDriver ?? 'overlay2';
  let launched: Launch;
  try {
    launched = await launch(storageDriver, options.extraArgs);
  } catch (error) {
    if (options.storageDriver !== undefined || storageDriver === 'vfs') throw error;
    storageDriver = 'vfs';
    launched = await launch(storageDriver, options.extraArgs);
  }
  const { temp, daemon, socketPath, logFile } = launched;
  const containerd = containerdPid(temp.path);
  const forgetContainerd = containerd === undefined ? () => undefined : adoptPid(containerd);
  const dockerConfig = join(temp.path, 'config');
  mkdirSync(dockerConfig, { mode: 0o700 });
  const dockerHost = `unix://${socketPath}`;
  const own = { DOCKER_HOST: dockerHost, DOCKER_CONFIG: dockerConfig };
  if (process.env.REGAUTH_TEST_TIMING === '1') console.log(`engine (${storageDriver}) ready in ${Date.now() - started} ms`);

  let stopping: Promise<void> | undefined;
  return {
    dockerHost,
    socketPath,
    dockerConfig,
    env: own,
    storageDriver,
    pid: daemon.pid,
    logFile,
    docker: (args, runOptions = {}) =>
      runProcess({
        command: 'docker',
        args,
        env: dockerEnv(runOptions.env ?? process.env, own),
        ...(runOptions.stdin !== undefined ? { stdin: runOptions.stdin } : {}),
      }),
    api: (method, path) => apiCall(socketPath, method, path),
    readLog: () => readFileSync(logFile, 'utf8'),
    stop() {
      stopping ??= (async () => {
        await daemon.stop();
        // dockerd stops the containerd it started; make sure, by that containerd's own pid.
        if (containerd !== undefined && pidAlive(containerd)) {
          process.kill(containerd, 'SIGTERM');
          await waitFor(async () => (pidAlive(containerd) ? undefined : true), { what: `containerd ${containerd} to exit`, timeoutMs: 15_000 }).catch(
            () => {
              if (pidAlive(containerd)) process.kill(containerd, 'SIGKILL');
            },
          );
        }
        forgetContainerd();
        await temp.remove();
      })();
      return stopping;
    },
  };
}

function toImage(raw: unknown): EngineImage {
  const record = raw as { Id?: string; RepoTags?: string[] | null; RepoDigests?: string[] | null };
  return { id: record.Id ?? '', repoTags: record.RepoTags ?? [], repoDigests: record.RepoDigests ?? [] };
}

/** Images the engine holds. */
export async function imagesIn(engine: Pick<Engine, 'api'>): Promise<EngineImage[]> {
  const { status, body } = await engine.api('GET', '/images/json');
  if (status !== 200 || !Array.isArray(body)) throw new Error(`listing images failed with HTTP ${status}`);
  return body.map(toImage);
}

/** One image by reference or id, or undefined when the engine does not have it. */
export async function inspectImage(engine: Pick<Engine, 'api'>, ref: string): Promise<EngineImage | undefined> {
  const { status, body } = await engine.api('GET', `/images/${encodeURIComponent(ref)}/json`);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`inspecting ${ref} failed with HTTP ${status}`);
  return toImage(body);
}

/** Removes every image (forced), e.g. between benchmark rounds so each pull is cold. */
export async function removeAllImages(engine: Pick<Engine, 'api'>): Promise<void> {
  for (const image of await imagesIn(engine)) {
    const { status } = await engine.api('DELETE', `/images/${encodeURIComponent(image.id)}?force=true`);
    if (status !== 200 && status !== 404) throw new Error(`removing image ${image.id} failed with HTTP ${status}`);
  }
}
