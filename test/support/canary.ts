/**
 * Where a secret could escape a step, and the instruments that watch each place:
 * - argv shims: `docker` and `circleci` first on PATH record every invocation's argv, then run
 *   the real docker (circleci has no real binary in tests: the shim answers `run oidc get` itself);
 * - a /proc sampler that reads every process's command line while a step runs;
 * - a file scan for canary values (raw, and base64 at every alignment) under given roots.
 * Canaries carry a random part, so a hit can only come from the test that planted it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { scratchRoot } from '../../testbed/tempdir.ts';

export interface Canary {
  /** What the secret is, e.g. `registry password` (used in reports, never the value). */
  label: string;
  value: string;
}

/** A fresh canary value: recognisable, unique to this test process, free of shell syntax. */
export function canaryValue(tag: string): string {
  return `canary-${tag}-${randomBytes(9).toString('hex')}`;
}

/**
 * The strings that betray `secret` inside some text: the value itself, its URL encoding, and
 * the part of its base64 / base64url encoding that does not depend on what precedes it (three
 * alignments), so a secret inside a larger base64 blob (docker's `user:pass`) is found too.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) forms.add(encoded);
  const bytes = Buffer.from(secret, 'utf8');
  for (let shift = 0; shift < 3; shift++) {
    for (const encoding of ['base64', 'base64url'] as const) {
      const text = Buffer.concat([Buffer.alloc(shift), bytes]).toString(encoding);
      // Characters touching the prefix or the padding depend on neighbours: drop them.
      const start = Math.ceil((shift * 4) / 3);
      const end = text.replace(/=+$/, '').length - 3;
      if (end - start >= 12) forms.add(text.slice(start, end));
    }
  }
  return [...forms];
}

export interface Leak {
  /** Where it was found: `stdout`, `argv docker`, `/proc cmdline`, a file path… */
  where: string;
  label: string;
}

/** Canaries whose value (in any form) occurs in `text`. Pure. */
export function findCanaries(text: string, canaries: readonly Canary[], where: string): Leak[] {
  const leaks: Leak[] = [];
  for (const canary of canaries) {
    if (secretForms(canary.value).some((form) => text.includes(form))) leaks.push({ where, label: canary.label });
  }
  return leaks;
}

export interface Invocation {
  tool: 'docker' | 'circleci';
  argv: string[];
}

export interface ArgvShims {
  /** Directory to put first on PATH. */
  binDir: string;
  /** `binDir:rest`. */
  pathWith(rest: string): string;
  /** The token `circleci run oidc get` prints; undefined makes it fail like outside a job. */
  setOidcToken(token: string | undefined): void;
  /** Every invocation recorded so far, in no particular order. */
  invocations(): Invocation[];
  /** Forgets the invocations recorded so far. */
  clear(): void;
  remove(): void;
}

/** The real docker CLI on this machine's PATH (resolved once, before any shim exists). */
export function realDockerPath(): string {
  return execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
}

/** One file per invocation (no interleaving when steps run at once): argc, tool, args, NUL-separated. */
function recordLine(logDir: string, tool: string): string {
  return `printf '%s\\0' "$#" ${tool} "$@" > '${logDir}'/${tool}.$$.$RANDOM$RANDOM`;
}

export function createArgvShims(options: { realDocker?: string } = {}): ArgvShims {
  const root = mkdtempSync(join(scratchRoot(), 'regauth-shims-'));
  const binDir = join(root, 'bin');
  const logDir = join(root, 'log');
  const tokenFile = join(root, 'oidc-token');
  mkdirSync(binDir, { mode: 0o700 });
  mkdirSync(logDir, { mode: 0o700 });
  const docker = options.realDocker ?? realDockerPath();
  for (const path of [root, docker, tokenFile]) {
    // The paths are pasted into shell text between single quotes.
    if (path.includes("'")) throw new Error(`unsupported path for a shim: ${path}`);
  }
  writeFileSync(join(binDir, 'docker'), `#!/bin/bash\n${recordLine(logDir, 'docker')}\nexec '${docker}' "$@"\n`, { mode: 0o755 });
  // `circleci run oidc get --claims JSON` is the one CLI call regauth makes; it prints a token.
  // `circleci` is a link to the agent (kept off PATH), as the job agent's alias is.
  mkdirSync(join(root, 'agent'), { recursive: true });
  writeFileSync(
    join(root, 'agent', 'circleci-agent'),
    [
      '#!/bin/bash',
      recordLine(logDir, 'circleci'),
      // regauth's check that this `circleci` is CircleCI's job agent (src/job-token/agent.ts).
      'if [ "$*" = "run oidc get --help" ]; then echo "  --claims string   custom claims (test shim)"; exit 0; fi',
      'if [ "$1" = run ] && [ "$2" = oidc ] && [ "$3" = get ]; then',
      `  if [ -f '${tokenFile}' ]; then cat '${tokenFile}'; echo; exit 0; fi`,
      '  echo "Error: failed to get OIDC token: this command only works inside a CircleCI job" >&2; exit 1',
      'fi',
      'echo "circleci (test shim): unsupported command: $1 $2 $3" >&2',
      'exit 2',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  chmodSync(join(binDir, 'docker'), 0o755);
  chmodSync(join(root, 'agent', 'circleci-agent'), 0o755);
  symlinkSync(join(root, 'agent', 'circleci-agent'), join(binDir, 'circleci'));

  return {
    binDir,
    pathWith: (rest) => `${binDir}:${rest}`,
    setOidcToken(token) {
      if (token === undefined) rmSync(tokenFile, { force: true });
      else writeFileSync(tokenFile, token, { mode: 0o600 });
    },
    invocations() {
      return readdirSync(logDir).map((name) => parseInvocation(readFileSync(join(logDir, name), 'utf8')));
    },
    clear() {
      for (const name of readdirSync(logDir)) rmSync(join(logDir, name), { force: true });
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Parses `argc\0tool\0arg1\0…argN\0`. Pure. */
export function parseInvocation(record: string): Invocation {
  const fields = record.split('\0');
  const argc = Number(fields[0]);
  const tool = fields[1] === 'circleci' ? 'circleci' : 'docker';
  return { tool, argv: fields.slice(2, 2 + argc) };
}

export interface ProcSample {
  /** Passes over /proc. */
  passes: number;
  /** Distinct command lines seen (NULs turned into spaces). */
  cmdlines: Set<string>;
}

export interface ProcSampler {
  stop(): Promise<ProcSample>;
}

/**
 * Reads /proc/<pid>/cmdline of every process, pass after pass, until stopped. Sampling only:
 * a process that lives between two passes is missed, which is why docker and circleci are also
 * recorded by the shims. Environments are not read: a child's environment legitimately holds the
 * variable that names the secret, as on CircleCI.
 */
export function startProcSampler(): ProcSampler {
  const cmdlines = new Set<string>();
  let passes = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      let entries: string[] = [];
      try {
        entries = await readdir('/proc');
      } catch {
        return;
      }
      await Promise.all(
        entries
          .filter((entry) => /^\d+$/.test(entry))
          .map(async (pid) => {
            try {
              const text = await readFile(`/proc/${pid}/cmdline`, 'utf8');
              if (text !== '') cmdlines.add(text.replaceAll('\0', ' ').trimEnd());
            } catch {
              // the process ended between readdir and read
            }
          }),
      );
      passes += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    async stop() {
      // The pass under way completes, so processes still alive after the step are seen too.
      running = false;
      await loop;
      return { passes, cmdlines };
    },
  };
}

/** Entries directly under /tmp (to tell which ones a step created). */
export function tmpEntries(): Set<string> {
  try {
    return new Set(readdirSync('/tmp').map((name) => join('/tmp', name)));
  } catch {
    return new Set();
  }
}

export interface FileScan {
  filesScanned: number;
  /** Canaries found in files that may not hold them. */
  leaks: Leak[];
  /** Problems with files that may hold secrets (mode, directory mode). */
  permissionProblems: string[];
}

export interface ScanOptions {
  roots: readonly string[];
  canaries: readonly Canary[];
  /** Files allowed to hold secrets; each must be 0600 in a 0700 directory. */
  allowed: readonly string[];
  /** Subtrees not to enter (e.g. the shims' own log). */
  skip?: readonly string[];
  /** Files larger than this are not read (image layers and the like). Default 4 MiB. */
  maxFileBytes?: number;
}

/** Scans every regular file under the roots (no link is followed) for every canary. */
export function scanFiles(options: ScanOptions): FileScan {
  const result: FileScan = { filesScanned: 0, leaks: [], permissionProblems: [] };
  const maxBytes = options.maxFileBytes ?? 4 * 1024 * 1024;
  const seen = new Set<string>();
  const skip = options.skip ?? [];
  const visit = (path: string, depth: number): void => {
    if (seen.has(path) || depth > 12 || skip.some((s) => path === s || path.startsWith(`${s}/`))) return;
    seen.add(path);
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(path);
      } catch {
        return;
      }
      for (const name of names) visit(join(path, name), depth + 1);
      return;
    }
    if (!stat.isFile() || stat.size > maxBytes) return;
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      return;
    }
    result.filesScanned += 1;
    const found = findCanaries(text, options.canaries, path);
    if (found.length === 0) return;
    if (!options.allowed.includes(path)) {
      result.leaks.push(...found);
      return;
    }
    const problem = secretFileProblem(path);
    if (problem) result.permissionProblems.push(problem);
  };
  for (const root of options.roots) visit(root, 0);
  return result;
}

/** Why `file` is not a safe home for a secret (0600 file in a 0700 directory), or undefined. */
export function secretFileProblem(file: string): string | undefined {
  const fileMode = statSync(file).mode & 0o777;
  const dirMode = statSync(dirname(file)).mode & 0o777;
  if (fileMode !== 0o600) return `${file} is mode ${fileMode.toString(8)}, not 600`;
  if (dirMode !== 0o700) return `${dirname(file)} is mode ${dirMode.toString(8)}, not 700`;
  return undefined;
}
