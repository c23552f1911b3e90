import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeTempDir } from './tempdir.ts';

/**
 * A FAKE CircleCI job agent (the real one mints tokens only inside a CircleCI job: a seam that
 * cannot run here). It records its argv (never secret), answers `version` and
 * `run oidc get --help` (naming --claims, as regauth's agent check wants), and for
 * `run oidc get --claims '{"aud":"X"}'` prints a token freshly signed by the local issuer (its
 * test-only mint endpoint), as the real agent prints one freshly minted by CircleCI. Its directory
 * goes first on a job's PATH. `name` is the program on PATH: `circleci` (the default: a link to
 * the agent, kept off PATH, as the agent's alias) or `circleci-agent`.
 */
export interface FakeCircleci {
  dir: string;
  calls(): string[];
}

export function fakeCircleci(mintUrl: string, node = process.execPath, name: 'circleci' | 'circleci-agent' = 'circleci'): FakeCircleci {
  const dir = makeTempDir('regauth-fake-circleci-').path;
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const mint =
    'const [url, claims] = process.argv.slice(1); let aud; try { aud = JSON.parse(claims).aud; } catch {}' +
    ' if (typeof aud !== "string") { console.error("fake circleci: --claims must be JSON with aud"); process.exit(2); }' +
    ' fetch(url, { method: "POST", body: JSON.stringify({ aud }) }).then(async (r) => { if (!r.ok) { console.error("fake circleci: mint failed " + r.status); process.exit(1); } process.stdout.write(await r.text()); }, (e) => { console.error("fake circleci: " + e.message); process.exit(1); });';
  const script = [
    '#!/bin/bash',
    '# FAKE circleci CLI for the regauth tests; it is not the CircleCI CLI.',
    `printf '%s\\n' "$*" >> ${q(log)}`,
    'if [ "$#" -eq 1 ] && [ "$1" = version ]; then echo "0.1.0-fake-for-tests"; exit 0; fi',
    'if [ "$*" = "run oidc get --help" ]; then echo "Usage: circleci run oidc get [--claims <json>] [--root-issuer] (fake for tests)"; exit 0; fi',
    'if [ "$#" -ne 5 ] || [ "$1" != run ] || [ "$2" != oidc ] || [ "$3" != get ] || [ "$4" != --claims ]; then',
    '  echo "fake circleci: unexpected arguments: $*" >&2; exit 64',
    'fi',
    `exec ${q(node)} -e ${q(mint)} ${q(mintUrl)} "$5"`,
    '',
  ].join('\n');
  // `circleci` is a link to the agent, as the agent's alias; the agent itself stays off PATH then.
  const program = name === 'circleci' ? join(dir, 'agent', 'circleci-agent') : join(dir, name);
  mkdirSync(dirname(program), { recursive: true });
  writeFileSync(program, script);
  chmodSync(program, 0o755);
  if (name === 'circleci') symlinkSync(program, join(dir, 'circleci'));
  return { dir, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

/**
 * A stand-in for a `circleci` that is NOT the job agent (as the stand-alone CircleCI CLI, where
 * `circleci run` starts CI runs): it records its argv and answers everything with a help text that
 * offers no --claims, exit 0, printing no token.
 */
export function foreignCircleci(): FakeCircleci {
  const dir = makeTempDir('regauth-foreign-circleci-').path;
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const script = ['#!/bin/bash', '# FOREIGN circleci stand-in for the regauth tests.', `printf '%s\\n' "$*" >> ${q(log)}`, 'echo "Usage: circleci run [list|watch|trigger] (another CLI)"', 'exit 0', ''].join('\n');
  writeFileSync(join(dir, 'circleci'), script);
  chmodSync(join(dir, 'circleci'), 0o755);
  return { dir, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}
