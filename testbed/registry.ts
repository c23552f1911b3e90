/**
 * A real registry (distribution 2.8, `docker-registry serve`) on 127.0.0.1 for integration
 * tests: htpasswd, token or no auth; TLS with a throwaway CA by default.
 */
import { randomBytes } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../src/core/process.ts';
import { waitFor } from './ports.ts';
import { makeTempDir, startDaemon } from './tempdir.ts';
import { startTokenServer, type TokenServer, type TokenServerOptions } from './token-server.ts';

/** Throwaway PKI shared by every registry, proxy and token server of this test process. */
export interface TestPki {
  caFile: string;
  caPem: string;
  /** A directory holding only ca.crt, as skopeo's --*-cert-dir expects. */
  certDir: string;
  serverCertFile: string;
  serverKeyFile: string;
  tokenCertFile: string;
  tokenKeyFile: string;
}

let pkiPromise: Promise<TestPki> | undefined;

async function openssl(args: string[]): Promise<void> {
  const result = await runProcess({ command: 'openssl', args });
  if (result.exitCode !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${result.stderr.trim()}`);
}

async function makePki(): Promise<TestPki> {
  const dir = makeTempDir('regauth-pki-').path;
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { mode: 0o700 });
  const caFile = join(certDir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30'];
  await openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-subj', '/CN=regauth test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const signedByCa = ['req', '-x509', '-CA', caFile, '-CAkey', caKey];
  const serverCertFile = join(dir, 'server.crt');
  const serverKeyFile = join(dir, 'server.key');
  const tokenCertFile = join(dir, 'token.crt');
  const tokenKeyFile = join(dir, 'token.key');
  await Promise.all([
    openssl([...signedByCa, ...ec, '-keyout', serverKeyFile, '-out', serverCertFile, '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'extendedKeyUsage=serverAuth']),
    // Token signatures are RS256, so the signing key is RSA.
    openssl([...signedByCa, '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-keyout', tokenKeyFile, '-out', tokenCertFile,
      '-subj', '/CN=regauth test token signer', '-addext', 'basicConstraints=critical,CA:FALSE']),
  ]);
  return { caFile, caPem: readFileSync(caFile, 'utf8'), certDir, serverCertFile, serverKeyFile, tokenCertFile, tokenKeyFile };
}

/** Made once per process (openssl is the slow part of starting a registry). */
export function testPki(): Promise<TestPki> {
  pkiPromise ??= makePki().catch((error: unknown) => {
    pkiPromise = undefined;
    throw error;
  });
  return pkiPromise;
}

export type RegistryAuth = 'htpasswd' | 'token' | 'none';

export interface RegistryOptions {
  /** Default 'htpasswd'. */
  auth?: RegistryAuth;
  /** Accounts for htpasswd or token auth. Default { alice: 'alice-pw' }. */
  users?: Readonly<Record<string, string>>;
  /** Serve HTTPS with the test CA's certificate. Default true. */
  tls?: boolean;
  /** Reuse an existing storage directory (e.g. a store seeded once for several registries). */
  storageDir?: string;
  /** Extra token server settings when auth is 'token'. */
  token?: Pick<TokenServerOptions, 'expiresInSeconds' | 'authorize' | 'authenticate'>;
}

/** What clients (skopeo, docker, regauth) need to reach a registry. */
export interface RegistryEndpoint {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host: string;
  /** `https://127.0.0.1:PORT` or `http://…`. */
  url: string;
  tls: boolean;
  auth: RegistryAuth;
  users: Readonly<Record<string, string>>;
  caFile: string;
  certDir: string;
}

export interface Registry extends RegistryEndpoint {
  storageDir: string;
  logFile: string;
  pid: number;
  tokenServer?: TokenServer;
  /** The first configured account. */
  credentials(): { username: string; password: string };
  /** The registry's own log so far (access log included). */
  readLog(): string;
  stop(): Promise<void>;
}

export const DEFAULT_USERS: Readonly<Record<string, string>> = { alice: 'alice-pw' };

export function firstCredentials(users: Readonly<Record<string, string>>): { username: string; password: string } {
  const entry = Object.entries(users)[0];
  if (!entry) throw new Error('registry has no users');
  return { username: entry[0], password: entry[1] };
}

async function htpasswdLine(user: string, password: string): Promise<string> {
  // -i: the password comes on stdin, never argv. distribution accepts bcrypt only (-B).
  const result = await runProcess({ command: 'htpasswd', args: ['-niB', user], stdin: password });
  if (result.exitCode !== 0) throw new Error(`htpasswd failed for ${user}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** The registry config (distribution's YAML is a superset of JSON). Pure. */
export function registryConfig(settings: {
  storageDir: string;
  tls?: { certificate: string; key: string };
  auth: Record<string, unknown> | undefined;
}): string {
  const config = {
    version: 0.1,
    log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: settings.storageDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: '127.0.0.1:0',
      secret: randomBytes(16).toString('hex'),
      ...(settings.tls ? { tls: settings.tls } : {}),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
    ...(settings.auth ? { auth: settings.auth } : {}),
  };
  return JSON.stringify(config, null, 2);
}

/** GET url; resolves with the status code (body discarded). */
export function probeStatus(url: string, ca?: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      res.resume();
      resolve(res.statusCode ?? 0);
    };
    const req = url.startsWith('https:') ? httpsGet(url, { ca, headers, agent: false }, onResponse) : httpGet(url, { headers, agent: false }, onResponse);
    req.on('error', reject);
  });
}

export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const started = Date.now();
  const auth = options.auth ?? 'htpasswd';
  const tls = options.tls ?? true;
  const users = options.users ?? DEFAULT_USERS;
  const pki = await testPki();
  const temp = makeTempDir('regauth-reg-');
  const storageDir = options.storageDir ?? join(temp.path, 'storage');
  mkdirSync(storageDir, { recursive: true, mode: 0o700 });

  let tokenServer: TokenServer | undefined;
  let authConfig: Record<string, unknown> | undefined;
  if (auth === 'htpasswd') {
    const lines = await Promise.all(Object.entries(users).map(([user, password]) => htpasswdLine(user, password)));
    const htpasswdFile = join(temp.path, 'htpasswd');
    writeFileSync(htpasswdFile, `${lines.join('\n')}\n`, { mode: 0o600 });
    authConfig = { htpasswd: { realm: 'regauth-test', path: htpasswdFile } };
  } else if (auth === 'token') {
    tokenServer = await startTokenServer({
      users,
      service: 'regauth-test-registry',
      issuer: 'regauth-test-issuer',
      signingKeyPem: readFileSync(pki.tokenKeyFile, 'utf8'),
      certChainPem: readFileSync(pki.tokenCertFile, 'utf8'),
      ...options.token,
    });
    authConfig = {
      token: { realm: tokenServer.realm, service: tokenServer.service, issuer: tokenServer.issuer, rootcertbundle: pki.caFile },
    };
  }

  const configFile = join(temp.path, 'config.yml');
  writeFileSync(
    configFile,
    registryConfig({ storageDir, auth: authConfig, ...(tls ? { tls: { certificate: pki.serverCertFile, key: pki.serverKeyFile } } : {}) }),
    { mode: 0o600 },
  );

  // REGISTRY_* variables would override the config file; the registry gets none of them.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')));
  let address: string | undefined;
  let seen = '';
  const logFile = join(temp.path, 'registry.log');
  const daemon = startDaemon({
    command: 'docker-registry',
    args: ['serve', configFile],
    logFile,
    env,
    onStderr: (chunk) => {
      if (address) return;
      seen += chunk;
      // The registry binds port 0 and logs the address it got.
      address = /listening on (127\.0\.0\.1:\d+)/.exec(seen)?.[1];
    },
  });
  const stop = async (): Promise<void> => {
    await daemon.stop();
    await tokenServer?.stop();
    await temp.remove();
  };

  const scheme = tls ? 'https' : 'http';
  try {
    const host = await waitFor(async () => address, {
      what: 'the registry to listen',
      abort: () => (daemon.hasExited() ? new Error(`registry exited during startup:\n${daemon.logTail()}`) : undefined),
    });
    await waitFor(
      async () => {
        const status = await probeStatus(`${scheme}://${host}/v2/`, pki.caPem);
        return status === 200 || status === 401 ? status : undefined;
      },
      { what: `${scheme}://${host}/v2/ to answer` },
    );
    if (process.env.REGAUTH_TEST_TIMING === '1') console.log(`registry ready in ${Date.now() - started} ms`);
    return {
      host,
      url: `${scheme}://${host}`,
      tls,
      auth,
      users,
      caFile: pki.caFile,
      certDir: pki.certDir,
      storageDir,
      logFile,
      pid: daemon.pid,
      ...(tokenServer ? { tokenServer } : {}),
      credentials: () => firstCredentials(users),
      readLog: () => readFileSync(logFile, 'utf8'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
