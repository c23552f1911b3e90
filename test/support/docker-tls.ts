/**
 * Certificates for a docker engine reached over TCP with TLS client verification, as
 * setup_remote_docker's engines were (DOCKER_HOST=tcp://…:2376, DOCKER_TLS_VERIFY=1,
 * DOCKER_CERT_PATH): a throwaway CA, a server certificate for 127.0.0.1, and a client certificate
 * in a directory laid out as the docker CLI reads it (ca.pem, cert.pem, key.pem).
 */
import { join } from 'node:path';
import { runProcess } from '../../src/core/process.ts';
import { makeTempDir, type TempDir } from '../../testbed/tempdir.ts';

export interface DockerTls {
  /** DOCKER_CERT_PATH for the CLI: ca.pem, cert.pem, key.pem. */
  clientDir: string;
  /** dockerd's --tlsverify flags for a listener on 127.0.0.1:port. */
  daemonArgs(port: number): string[];
  remove(): Promise<void>;
}

async function openssl(args: string[]): Promise<void> {
  const result = await runProcess({ command: 'openssl', args });
  if (result.exitCode !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${result.stderr.trim()}`);
}

export async function issueDockerTls(): Promise<DockerTls> {
  const temp: TempDir = makeTempDir('regauth-docker-tls-');
  const file = (name: string): string => join(temp.path, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  try {
    await openssl(['req', '-x509', ...ec, '-keyout', file('ca-key.pem'), '-out', file('ca.pem'), '-subj', '/CN=regauth remote docker test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await openssl(['req', '-x509', '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'), ...ec, '-keyout', file('server-key.pem'), '-out', file('server-cert.pem'),
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
    // The client's directory: what DOCKER_CERT_PATH names.
    const client = join(temp.path, 'client');
    await runProcess({ command: 'mkdir', args: ['-m', '0700', client] });
    await openssl(['req', '-x509', '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'), ...ec, '-keyout', join(client, 'key.pem'), '-out', join(client, 'cert.pem'),
      '-subj', '/CN=regauth job', '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=clientAuth']);
    await runProcess({ command: 'cp', args: [file('ca.pem'), join(client, 'ca.pem')] });
    return {
      clientDir: client,
      daemonArgs: (port) => ['--host', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', file('ca.pem'), '--tlscert', file('server-cert.pem'), '--tlskey', file('server-key.pem')],
      remove: () => temp.remove(),
    };
  } catch (error) {
    await temp.remove();
    throw error;
  }
}
