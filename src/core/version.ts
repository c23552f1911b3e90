/**
 * regauth's version, as the packed orb states it in each step's first line. The build defines
 * REGAUTH_VERSION (package.json's version); code run from source (tests) says `dev`.
 */
declare const REGAUTH_VERSION: string | undefined;

export const VERSION: string = typeof REGAUTH_VERSION === 'string' ? REGAUTH_VERSION : 'dev';

/** The first line of every step: which command of which version ran (`regauth: regauth/login 2.1.0`). */
export function headerLine(command: string): string {
  return `regauth: regauth/${command} ${VERSION}`;
}
