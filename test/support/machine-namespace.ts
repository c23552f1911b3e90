/**
 * A private mount namespace that looks like a fresh machine's system places, for the few tests
 * that must run regauth's real system routes (root into /usr/local/bin, `sudo -n`) with no
 * override: inside it /usr/local/bin is an overlay of the real one (reads see the machine's
 * programs, writes land in the namespace's own tmpfs), /tmp is an empty tmpfs with the given host
 * directories bound back at their own paths (the jobs' homes), and users can be added to passwd,
 * group and sudoers. Nothing written inside reaches the host; the namespace ends with its holder
 * process (stop(), or this process's exit, which closes the holder's stdin).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from '../../testbed/ports.ts';
import { adoptPid } from '../../testbed/tempdir.ts';

export interface NamespaceUser {
  name: string;
  uid: number;
  /** May run any command as root through `sudo -n` (no password). */
  sudo: boolean;
}

export interface MachineNamespace {
  /** The prefix that runs a command inside (as root, or as one of the added users), in `cwd`. */
  wrap(cwd: string, user?: NamespaceUser): string[];
  /** Runs a shell command inside as root. */
  sh(command: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

const quote = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`;

function setupScript(keep: readonly string[], users: readonly NamespaceUser[]): string {
  const lines = [
    'set -euo pipefail',
    'mount -t tmpfs -o mode=0755 regauth-machine /mnt',
    'mkdir /mnt/keep /mnt/bin-upper /mnt/bin-work /mnt/etc',
    ...keep.flatMap((dir, index) => [`mkdir /mnt/keep/${index}`, `mount --bind ${quote(dir)} /mnt/keep/${index}`]),
    'mount -t overlay regauth-machine -o lowerdir=/usr/local/bin,upperdir=/mnt/bin-upper,workdir=/mnt/bin-work /usr/local/bin',
    'mount -t tmpfs -o mode=1777 regauth-machine /tmp',
    ...keep.flatMap((dir, index) => [`mkdir -p ${quote(dir)}`, `mount --bind /mnt/keep/${index} ${quote(dir)}`]),
  ];
  if (users.length > 0) {
    lines.push('cp -p /etc/passwd /etc/group /etc/shadow /mnt/etc/', 'mkdir -m 0755 /mnt/etc/sudoers.d');
    lines.push('if [ -d /etc/sudoers.d ]; then cp -a /etc/sudoers.d/. /mnt/etc/sudoers.d/; fi');
    for (const user of users) {
      lines.push(`echo ${quote(`${user.name}:x:${user.uid}:${user.uid}::/nonexistent:/bin/bash`)} >>/mnt/etc/passwd`);
      lines.push(`echo ${quote(`${user.name}:x:${user.uid}:`)} >>/mnt/etc/group`);
      // sudo's PAM account check wants a shadow entry: no password, not locked, never expiring.
      lines.push(`echo ${quote(`${user.name}:*:19000:0:99999:7:::`)} >>/mnt/etc/shadow`);
      if (user.sudo) lines.push(`echo ${quote(`${user.name} ALL=(root) NOPASSWD: ALL`)} >/mnt/etc/sudoers.d/regauth-test-${user.uid}`);
    }
    lines.push('chmod 0440 /mnt/etc/sudoers.d/regauth-test-* 2>/dev/null || true');
    lines.push('for file in passwd group shadow; do mount --bind /mnt/etc/$file /etc/$file; done');
    lines.push('if [ -d /etc/sudoers.d ]; then mount --bind /mnt/etc/sudoers.d /etc/sudoers.d; fi');
  }
  // Ready; then hold the namespace open until stdin closes (stop(), or this process ending).
  lines.push('echo ready', 'exec cat >/dev/null');
  return lines.join('\n');
}

/** Starts the namespace; `keep` are host directories (under the run's scratch) visible inside at their own paths. */
export async function startMachineNamespace(keep: readonly string[], users: readonly NamespaceUser[] = []): Promise<MachineNamespace> {
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/bash', '-c', setupScript(keep, users)], { stdio: ['pipe', 'pipe', 'pipe'] });
  if (holder.pid === undefined) throw new Error('unshare could not be started');
  const pid = holder.pid;
  const release = adoptPid(pid);
  let output = '';
  holder.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  holder.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = once(holder, 'exit');
  await waitFor(() => Promise.resolve(output.includes('ready') ? true : undefined), {
    what: 'the private mount namespace',
    timeoutMs: 10_000,
    abort: () => (holder.exitCode !== null ? new Error(`the private mount namespace could not be set up: ${output.trim()}`) : undefined),
  });
  const wrap = (cwd: string, user?: NamespaceUser): string[] => [
    'nsenter',
    '-t',
    String(pid),
    '-m',
    `--wd=${cwd}`,
    '--',
    ...(user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.uid}`, '--clear-groups', '--'] : []),
  ];
  return {
    wrap,
    sh(command) {
      return new Promise((resolvePromise, reject) => {
        const child = spawn('nsenter', ['-t', String(pid), '-m', '--', '/bin/bash', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code) => resolvePromise({ exitCode: code ?? 1, stdout, stderr }));
      });
    },
    async stop() {
      if (holder.exitCode === null) {
        holder.stdin.end();
        await exited;
      }
      release();
    },
  };
}
