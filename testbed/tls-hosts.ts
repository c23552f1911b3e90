/**
 * A server certificate for real registry host names (quay.io, registry-1.docker.io, …), so a
 * test proxy can answer for them and docker verifies a real chain for a non-loopback name.
 * Its own throwaway CA: testPki() (registry.ts) does not expose the key of the shared test CA.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../src/core/process.ts';
import { makeTempDir } from './tempdir.ts';

export interface HostCertificate {
  hosts: readonly string[];
  /** The CA that signed the certificate (PEM file and text). */
  caFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Removes the files (the process exit removes them too). */
  remove(): Promise<void>;
}

const DNS_NAME = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The openssl -addext value naming every host (pure); refuses anything that is not a DNS name. */
export function subjectAltNames(hosts: readonly string[]): string {
  if (hosts.length === 0) throw new Error('a host certificate needs at least one host');
  for (const host of hosts) {
    if (!DNS_NAME.test(host)) throw new Error(`not a DNS name for a certificate: ${JSON.stringify(host)}`);
  }
  return `subjectAltName=${hosts.map((host) => `DNS:${host}`).join(',')}`;
}

/** Where Debian, Fedora/RHEL and Alpine keep the system trust bundle. */
export const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'] as const;

/** The system bundle followed by `extraPem` (pure). */
export function joinBundles(systemPem: string, extraPem: string): string {
  const head = systemPem === '' || systemPem.endsWith('\n') ? systemPem : `${systemPem}\n`;
  return `${head}${extraPem.endsWith('\n') ? extraPem : `${extraPem}\n`}`;
}

/**
 * Writes system trust + `caPem` to `file`, for SSL_CERT_FILE (Go: docker CLI, dockerd) or
 * NODE_EXTRA_CA_CERTS. SSL_CERT_FILE replaces the system roots, hence the system bundle first.
 */
export function writeCaBundle(file: string, caPem: string, candidates: readonly string[] = SYSTEM_BUNDLES): string {
  const system = candidates.find((path) => existsSync(path));
  writeFileSync(file, joinBundles(system === undefined ? '' : readFileSync(system, 'utf8'), caPem));
  return file;
}

async function openssl(args: string[]): Promise<void> {
  const result = await runProcess({ command: 'openssl', args });
  if (result.exitCode !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${result.stderr.trim()}`);
}

/** A CA and one server certificate it signed for all `hosts` (EC P-256, 30 days). */
export async function issueHostCertificate(hosts: readonly string[]): Promise<HostCertificate> {
  const san = subjectAltNames(hosts);
  const temp = makeTempDir('regauth-hosts-pki-');
  try {
    const file = (name: string): string => join(temp.path, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30'];
    await openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=regauth test hosts CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await openssl(['req', '-x509', '-CA', file('ca.crt'), '-CAkey', file('ca.key'), ...ec, '-keyout', file('host.key'), '-out', file('host.crt'),
      '-subj', `/CN=${hosts[0] ?? ''}`, '-addext', san, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
    return {
      hosts: [...hosts],
      caFile: file('ca.crt'),
      caPem: readFileSync(file('ca.crt'), 'utf8'),
      certPem: readFileSync(file('host.crt'), 'utf8'),
      keyPem: readFileSync(file('host.key'), 'utf8'),
      remove: () => temp.remove(),
    };
  } catch (error) {
    await temp.remove();
    throw error;
  }
}
