import { request } from 'node:http';
import { join } from 'node:path';
import type { Env } from '../core/env.ts';
import { dockerSocketPath } from '../core/places.ts';
import { readRegularFile } from '../core/private-files.ts';
import type { RegistryTarget } from '../registry/host.ts';
import { dockerConfigDir, type DockerConfigFile } from './config.ts';

/**
 * The engine's own login check (`POST /auth`, what `docker login` asks the daemon before it stores
 * anything), asked directly when docker's credential helper already holds the password: a login
 * served by docker-credential-regauth then costs one request over the engine's socket instead of
 * the docker CLI plus the helper's `store` (a node start). The daemon still judges the password
 * with the registry, from where it pulls, with its own TLS and mirror settings.
 *
 * Only a local engine reached through a unix socket is asked: contexts, ssh:// and TLS hosts stay
 * with the docker CLI, which knows them. Anything but a plain "accepted" sends the caller back to
 * `docker login`, whose words and classification stay the ones users see.
 */

/**
 * The engine's socket when docker would use a local unix socket for this environment; else
 * undefined. docker's order: DOCKER_CONTEXT, then DOCKER_HOST, then the config's currentContext.
 */
export function localEngineSocket(env: Env, config: DockerConfigFile): string | undefined {
  const context = env.DOCKER_CONTEXT?.trim() ?? '';
  if (context !== '' && context !== 'default') return undefined;
  // The default context is DOCKER_HOST when set.
  const host = env.DOCKER_HOST?.trim() ?? '';
  if (host !== '') return /^unix:\/\/(\/.+)$/.exec(host)?.[1];
  const configured = typeof config.currentContext === 'string' ? config.currentContext : '';
  if (context === '' && configured !== '' && configured !== 'default') return undefined;
  return dockerSocketPath(env);
}

export type EngineVerdict = { accepted: true } | { accepted: false; why: string };

/** Reads the daemon's answer to `POST /auth`: accepted only on 200 with no identity token to keep. */
export function readAuthAnswer(status: number | undefined, body: string): EngineVerdict {
  if (status !== 200) return { accepted: false, why: `the engine answered ${status ?? 'nothing'}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { accepted: false, why: 'the engine answered no JSON' };
  }
  const token = (parsed as { IdentityToken?: unknown } | null)?.IdentityToken;
  // A registry that hands out a refresh token wants docker to keep that token, not the password.
  if (typeof token === 'string' && token !== '') return { accepted: false, why: 'the registry gave an identity token for docker to keep' };
  return { accepted: true };
}

export interface EngineLogin {
  socket: string;
  /** What `docker login <server>` sends as serveraddress. */
  server: string;
  username: string;
  password: string;
  deadlineMs: number;
}

/** One `POST /auth` over the socket, the password in the body; never throws. */
export function askEngineToCheck(login: EngineLogin): Promise<EngineVerdict> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ username: login.username, password: login.password, serveraddress: login.server });
    const req = request(
      { socketPath: login.socket, path: '/auth', method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= 64 * 1024) chunks.push(chunk);
        });
        res.on('end', () => resolve(readAuthAnswer(res.statusCode, Buffer.concat(chunks).toString('utf8'))));
        res.on('error', () => resolve({ accepted: false, why: 'the engine broke off its answer' }));
      },
    );
    // One deadline for the whole exchange (the daemon may be slow to reach the registry).
    const timer = setTimeout(() => req.destroy(new Error('deadline')), login.deadlineMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ accepted: false, why: error.message === 'deadline' ? `no answer within ${login.deadlineMs} ms` : `the engine's socket: ${error.code ?? 'error'}` }));
    req.end(body);
  });
}

/** How long the engine may take to judge a login before `docker login` is asked instead. */
export const ENGINE_CHECK_DEADLINE_MS = 15_000;

/**
 * Starts the engine's check of one login at once (a login asks it while it installs the helper);
 * `docker login`'s route when the engine is not a local socket, the registry is Docker Hub, or the
 * docker config cannot be read here (docker login then says why).
 */
export async function askLocalEngine(env: Env, target: RegistryTarget, username: string, password: string): Promise<EngineVerdict> {
  // Read as docker would, but never blocking on a FIFO or following a link: anything odd is docker login's to report.
  const read = await readRegularFile(join(dockerConfigDir(env), 'config.json'));
  let config: DockerConfigFile = {};
  try {
    if (read.kind === 'text' && read.text.trim() !== '') config = JSON.parse(read.text) as DockerConfigFile;
    else if (read.kind !== 'missing' && read.kind !== 'text') throw new Error(read.kind);
  } catch {
    return { accepted: false, why: 'the docker config could not be read' };
  }
  const socket = localEngineSocket(env, config);
  if (socket === undefined) return { accepted: false, why: 'the engine is not a local socket' };
  if (target.serverArgument === undefined) return { accepted: false, why: "Docker Hub's login goes through docker login" };
  return askEngineToCheck({ socket, server: target.serverArgument, username, password, deadlineMs: ENGINE_CHECK_DEADLINE_MS });
}

/** A host's verdict, asked earlier; undefined when it was not asked. */
export type EngineVerdicts = (host: string) => Promise<EngineVerdict> | undefined;

/** The engine asked about every login at once; what `DockerDeps.engineVerdict` takes. */
export function askLocalEngineEarly(env: Env, logins: readonly { target: RegistryTarget; username: string; password: string }[]): EngineVerdicts {
  const asked = new Map(logins.map((login) => [login.target.host, askLocalEngine(env, login.target, login.username, login.password)]));
  return (host) => asked.get(host);
}
