import { isIPv6 } from 'node:net';

/**
 * Image references: the distribution reference grammar, normalised the way the docker CLI
 * does it, so that what we pull, tag and print is what `docker run` will later look up.
 * Pure.
 */
export interface ImageReference {
  /** Registry host[:port]; `docker.io` for Docker Hub. */
  readonly domain: string;
  /** Repository path, e.g. `library/postgres`. */
  readonly path: string;
  /** `latest` when the reference names neither a tag nor a digest. */
  readonly tag: string | undefined;
  /** `algorithm:hex` when pinned. */
  readonly digest: string | undefined;
  /** domain/path[:tag][@digest] — the form docker stores and we print. */
  readonly normalized: string;
}

export const DOCKER_HUB_DOMAIN = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const NAME_TOTAL_LENGTH_MAX = 255;
const TAG = /^\w[\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** A value that is not a valid image reference (or mirror prefix); the message quotes it. */
export class ReferenceFormatError extends Error {
  constructor(
    readonly value: string,
    readonly reason: string,
    what = 'image reference',
  ) {
    super(`${JSON.stringify(value)} is not a valid ${what}: ${reason}`);
    this.name = 'ReferenceFormatError';
  }
}

/** Parses and normalises like docker: `postgres` → `docker.io/library/postgres:latest`. */
export function parseReference(input: string): ImageReference {
  const fail = (reason: string): never => {
    throw new ReferenceFormatError(input, reason);
  };
  const charProblem = describeBadCharacter(input);
  if (input === '') fail('it is empty');
  if (charProblem) fail(charProblem);
  if (/^[a-f0-9]{64}$/.test(input)) fail('a 64-character hexadecimal string is an image ID, not a repository name');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem) fail(problem);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag === '') fail('the tag after ":" is empty');
    if (tag.length > 128) fail(`the tag is ${tag.length} characters long; the limit is 128`);
    if (!TAG.test(tag)) fail(`the tag ${JSON.stringify(tag)} may only contain letters, digits, "_", "." and "-", and must not start with "." or "-"`);
  }
  if (rest === '') fail('the repository name is empty');

  const { domain, path } = splitDomain(rest);
  if (domain !== undefined) {
    const problem = domainProblem(domain);
    if (problem) fail(problem);
  }
  const pathError = pathProblem(path);
  if (pathError) fail(pathError);

  const normalizedDomain = domain === undefined || domain === 'index.docker.io' ? DOCKER_HUB_DOMAIN : domain;
  const normalizedPath = normalizedDomain === DOCKER_HUB_DOMAIN && !path.includes('/') ? `library/${path}` : path;
  const name = `${normalizedDomain}/${normalizedPath}`;
  if (name.length > NAME_TOTAL_LENGTH_MAX) fail(`the repository name is ${name.length} characters long; the limit is ${NAME_TOTAL_LENGTH_MAX}`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    domain: normalizedDomain,
    path: normalizedPath,
    tag,
    digest,
    normalized: `${name}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`,
  };
}

/** domain/path without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

export function isDockerHub(ref: ImageReference): boolean {
  return DOCKER_HUB_ALIASES.has(ref.domain);
}

/**
 * Validates a pull-through cache prefix: host[:port] with an optional path, no scheme, tag or
 * digest. Returns it without a trailing slash.
 */
export function parseMirrorPrefix(input: string): string {
  const fail = (reason: string): never => {
    throw new ReferenceFormatError(input, reason, 'mirror prefix');
  };
  if (input === '') fail('it is empty');
  const charProblem = describeBadCharacter(input);
  if (charProblem) fail(charProblem);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) fail('write it without a scheme, as host[:port]/path');
  const value = input.endsWith('/') ? input.slice(0, -1) : input;
  if (value.includes('@')) fail('a mirror prefix must not contain a digest');
  const slash = value.indexOf('/');
  const domain = slash === -1 ? value : value.slice(0, slash);
  const path = slash === -1 ? '' : value.slice(slash + 1);
  if (!isDomainLike(domain)) {
    fail(`it must start with a registry host (a name with a dot, localhost, or host:port), not ${JSON.stringify(domain)}`);
  }
  const problem = domainProblem(domain);
  if (problem) fail(problem);
  if (path.includes(':')) fail('a mirror prefix must not contain a tag');
  if (path !== '') {
    const pathError = pathProblem(path);
    if (pathError) fail(pathError);
  }
  return value;
}

/**
 * The Docker Hub reference as served by the mirror: `<mirror>/library/postgres:16` for official
 * images, `<mirror>/cimg/postgres:16.4` otherwise; tag and digest kept.
 */
export function mirrorReference(ref: ImageReference, mirrorPrefix: string): ImageReference {
  if (!isDockerHub(ref)) throw new Error(`${ref.normalized} is not a Docker Hub image; only Docker Hub images go through the mirror`);
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return parseReference(`${mirrorPrefix}/${ref.path}${tag}${digest}`);
}

/** The first component names a registry when it has a dot or a port, is localhost, or has capitals (docker's rule). */
function isDomainLike(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component !== component.toLowerCase();
}

function splitDomain(name: string): { domain: string | undefined; path: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: undefined, path: name };
  const first = name.slice(0, slash);
  return isDomainLike(first) ? { domain: first, path: name.slice(slash + 1) } : { domain: undefined, path: name };
}

function domainProblem(domain: string): string | undefined {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close === -1) return `the registry host ${JSON.stringify(domain)} has "[" without "]"`;
    const address = domain.slice(1, close);
    if (!isIPv6(address)) return `${JSON.stringify(address)} in the registry host is not an IPv6 address`;
    const after = domain.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return `the registry host ${JSON.stringify(domain)} has characters after "]"`;
    return after === '' ? undefined : portProblem(after.slice(1), domain);
  }
  const colon = domain.indexOf(':');
  if (colon !== -1) {
    host = domain.slice(0, colon);
    port = domain.slice(colon + 1);
    if (port.includes(':')) return `the registry host ${JSON.stringify(domain)} has more than one ":"; write an IPv6 address in brackets`;
  }
  if (host === '') return `the registry host ${JSON.stringify(domain)} has an empty host name`;
  if (host.length > 253) return `the registry host name is ${host.length} characters long; the limit is 253`;
  for (const component of host.split('.')) {
    if (component === '') return `the registry host ${JSON.stringify(host)} has an empty label (a leading, trailing or doubled ".")`;
    if (component.length > 63) return `the registry host label ${JSON.stringify(component)} is longer than 63 characters`;
    if (!DOMAIN_COMPONENT.test(component)) {
      return `the registry host label ${JSON.stringify(component)} may only contain letters, digits and inner "-"`;
    }
  }
  return port === undefined ? undefined : portProblem(port, domain);
}

function portProblem(port: string, domain: string): string | undefined {
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    return `the port in ${JSON.stringify(domain)} must be a number from 1 to 65535`;
  }
  return undefined;
}

function pathProblem(path: string): string | undefined {
  for (const component of path.split('/')) {
    if (component === '') return 'the repository path has an empty component (a leading, trailing or doubled "/")';
    if (PATH_COMPONENT.test(component)) continue;
    if (PATH_COMPONENT.test(component.toLowerCase())) return `the repository name ${JSON.stringify(path)} must be lowercase`;
    return `the repository path component ${JSON.stringify(component)} may only contain lowercase letters and digits separated by ".", "_", "__" or "-"`;
  }
  return undefined;
}

function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = colon === -1 ? '' : digest.slice(0, colon);
  const hex = colon === -1 ? '' : digest.slice(colon + 1);
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) return `the digest ${JSON.stringify(digest)} must be sha256: followed by 64 lowercase hex digits`;
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    return `the digest ${JSON.stringify(digest)} must be ${algorithm}: followed by ${length} lowercase hex digits`;
  }
  return undefined;
}

/** References are printable ASCII only: name the first character that is not. */
function describeBadCharacter(value: string): string | undefined {
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code > 0x20 && code < 0x7f) continue;
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    if (code === 0x20) return 'it contains a space';
    if (code < 0x20 || code === 0x7f) return `it contains a control character (${hex})`;
    return `it contains the non-ASCII character ${JSON.stringify(ch)} (${hex}); image references are ASCII only`;
  }
  return undefined;
}
