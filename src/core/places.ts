import { isAbsolute, join, normalize } from 'node:path';

/**
 * The machine-wide places regauth installs to and keeps marks in, resolved here and nowhere else.
 * REGAUTH_TEST_SYSTEM_ROOT is a test/operator override (the orb never sets it): an absolute
 * directory that stands in for `/`, so a test suite runs the system routes against directories of
 * its own and never touches the machine it runs on. Anything else (unset, relative) means `/`.
 */
export const SYSTEM_ROOT_OVERRIDE = 'REGAUTH_TEST_SYSTEM_ROOT';

type PlacesEnv = Readonly<Record<string, string | undefined>>;

function systemRoot(env: PlacesEnv): string {
  const value = env[SYSTEM_ROOT_OVERRIDE];
  return value && isAbsolute(value) ? normalize(value) : '/';
}

/** Directories on a job's PATH that root may install a program into, in order of preference. */
export function systemBinDirs(env: PlacesEnv): string[] {
  return ['usr/local/bin', 'usr/local/sbin', 'usr/bin'].map((dir) => join(systemRoot(env), dir));
}

/** Where a program installed through `sudo -n` goes. */
export function sudoBinDir(env: PlacesEnv): string {
  return join(systemRoot(env), 'usr/local/bin');
}

/**
 * The machine's temporary directory, where marks every job on the machine must find live: a fixed
 * place, not $TMPDIR, which each job (and each user) may set differently.
 */
export function machineTempDir(env: PlacesEnv): string {
  return join(systemRoot(env), 'tmp');
}

/** The docker engine's socket when DOCKER_HOST names none (docker's own default). */
export function dockerSocketPath(env: PlacesEnv): string {
  return join(systemRoot(env), 'var/run/docker.sock');
}
