import { describe, expect, it } from 'vitest';
import { isDockerHub, mirrorReference, parseMirrorPrefix, parseReference, ReferenceFormatError, repositoryName } from '../../../src/registry/reference.ts';

const DIGEST = `sha256:${'a1'.repeat(32)}`;

describe('parseReference normalises like docker', () => {
  it.each([
    ['postgres', 'docker.io', 'library/postgres', 'latest', undefined],
    ['postgres:16', 'docker.io', 'library/postgres', '16', undefined],
    ['cimg/postgres:16.4', 'docker.io', 'cimg/postgres', '16.4', undefined],
    ['docker.io/postgres', 'docker.io', 'library/postgres', 'latest', undefined],
    ['index.docker.io/library/postgres:16', 'docker.io', 'library/postgres', '16', undefined],
    ['docker.io/cimg/postgres', 'docker.io', 'cimg/postgres', 'latest', undefined],
    [`postgres@${DIGEST}`, 'docker.io', 'library/postgres', undefined, DIGEST],
    [`postgres:16@${DIGEST}`, 'docker.io', 'library/postgres', '16', DIGEST],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/app:1', 'localhost:5000', 'app', '1', undefined],
    ['127.0.0.1:5000/team/app:v1.2.3', '127.0.0.1:5000', 'team/app', 'v1.2.3', undefined],
    ['[::1]:5000/app', '[::1]:5000', 'app', 'latest', undefined],
    ['[2001:db8::1]/a/b', '[2001:db8::1]', 'a/b', 'latest', undefined],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/app/api:1.4.2', '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'app/api', '1.4.2', undefined],
    ['ghcr.io/org/repo/sub/image:sha-abc', 'ghcr.io', 'org/repo/sub/image', 'sha-abc', undefined],
    ['quay.io/org/a__b.c-d---e:TAG_1', 'quay.io', 'org/a__b.c-d---e', 'TAG_1', undefined],
    ['Registry/app', 'Registry', 'app', 'latest', undefined],
    // A lone name:number is a tag, as in docker: localhost:5000 is docker.io/library/localhost:5000.
    ['localhost:5000', 'docker.io', 'library/localhost', '5000', undefined],
    [`app:${'t'.repeat(128)}`, 'docker.io', 'library/app', 't'.repeat(128), undefined],
  ])('%s', (input, domain, path, tag, digest) => {
    const ref = parseReference(input);
    expect(ref).toMatchObject({ domain, path, tag, digest });
    expect(ref.normalized).toBe(`${domain}/${path}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`);
    // Normalising is idempotent.
    expect(parseReference(ref.normalized)).toEqual(ref);
  });
});

describe('parseReference rejects what docker rejects, naming the value and the reason', () => {
  it.each([
    ['', /"" is not a valid image reference: it is empty/],
    ['Postgres', /must be lowercase/],
    ['cimg/Postgres:16', /"cimg\/Postgres" must be lowercase/],
    ['postgres;rm', /component "postgres;rm" may only contain/],
    ['$(whoami)', /component "\$\(whoami\)" may only contain/],
    ['a`id`', /may only contain/],
    ['post gres', /contains a space/],
    ['postgres\n', /control character \(U\+000A\)/],
    ['pоstgres', /non-ASCII character "о" \(U\+043E\)/], // Cyrillic o
    ['postgres:１６', /non-ASCII character "１" \(U\+FF11\)/], // fullwidth digit
    ['ghcr․io/a/b', /non-ASCII character/], // one-dot leader
    [`app:${'t'.repeat(129)}`, /the tag is 129 characters long; the limit is 128/],
    ['app:', /the tag after ":" is empty/],
    ['app:.hidden', /the tag ".hidden" may only contain/],
    ['app:-x', /the tag "-x" may only contain/],
    ['app:a+b', /the tag "a\+b" may only contain/],
    ['app@sha256:abc', /digest "sha256:abc" must be sha256: followed by 64 lowercase hex digits/],
    [`app@sha256:${'A1'.repeat(32)}`, /must be sha256: followed by 64 lowercase hex/],
    [`app@md5:${'a'.repeat(32)}`, /digest "md5:a{32}" must be sha256:/],
    ['app@', /digest "" must be/],
    [`app@${DIGEST}@${DIGEST}`, /digest/],
    [`app@sha256:${'a'.repeat(65)}`, /64 lowercase hex/],
    ['a'.repeat(64).replace(/a/g, 'f'), /image ID, not a repository name/],
    [':16', /repository name is empty/],
    ['/app', /empty component/],
    ['app/', /empty component/],
    ['a//b', /empty component/],
    ['a/-b', /component "-b"/],
    ['a/b_', /component "b_"/],
    ['a/b___c', /component "b___c"/],
    ['a/b..c', /component "b..c"/],
    ['host:0/app', /port in "host:0" must be a number from 1 to 65535/],
    ['host:65536/app', /port/],
    ['host:x/app', /port/],
    ['-bad.com/app', /label "-bad"/],
    ['bad-.com/app', /label "bad-"/],
    ['a..com/app', /empty label/],
    ['::1/app', /more than one ":"/],
    ['[::1/app', /"\[" without "\]"/],
    ['[zz::1]/app', /"zz::1" in the registry host is not an IPv6 address/],
    ['[::1]x/app', /characters after "\]"/],
    [`${'a'.repeat(64)}.com/app`, /longer than 63 characters/],
    [`registry.example.com/${'a'.repeat(240)}`, /repository name is \d+ characters long; the limit is 255/],
  ])('%j', (input, message) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ReferenceFormatError);
    const error = caught as ReferenceFormatError;
    expect(error.message.startsWith(`${JSON.stringify(input)} is not a valid image reference: `)).toBe(true);
    expect(error.message).toMatch(message);
    expect(error.value).toBe(input);
  });
});

describe('isDockerHub', () => {
  it.each([
    ['postgres', true],
    ['cimg/postgres:16.4', true],
    ['docker.io/library/postgres', true],
    ['index.docker.io/cimg/node', true],
    ['registry-1.docker.io/library/redis', true],
    ['ghcr.io/org/app', false],
    ['localhost:5000/postgres', false],
    ['docker.io.evil.com/postgres', false],
  ])('%s → %s', (input, expected) => {
    expect(isDockerHub(parseReference(input))).toBe(expected);
  });
});

describe('mirrorReference', () => {
  const mirror = '123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub';
  it.each([
    ['postgres:16', `${mirror}/library/postgres:16`],
    ['postgres', `${mirror}/library/postgres:latest`],
    ['cimg/postgres:16.4', `${mirror}/cimg/postgres:16.4`],
    [`redis@${DIGEST}`, `${mirror}/library/redis@${DIGEST}`],
    [`redis:7@${DIGEST}`, `${mirror}/library/redis:7@${DIGEST}`],
  ])('%s → %s', (input, expected) => {
    expect(mirrorReference(parseReference(input), mirror).normalized).toBe(expected);
  });

  it('works with a host-only mirror', () => {
    expect(mirrorReference(parseReference('postgres:16'), 'mirror.gcr.io').normalized).toBe('mirror.gcr.io/library/postgres:16');
  });

  it('refuses images that are not on Docker Hub', () => {
    expect(() => mirrorReference(parseReference('ghcr.io/a/b'), mirror)).toThrow(/ghcr.io\/a\/b:latest is not a Docker Hub image/);
  });

  it('reports a mirrored name that grows past the length limit', () => {
    const long = `mirror.example.com/${'m'.repeat(200)}`;
    expect(() => mirrorReference(parseReference(`cimg/${'p'.repeat(60)}`), long)).toThrow(/the limit is 255/);
  });
});

describe('parseMirrorPrefix', () => {
  it.each([
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub', '123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub'],
    ['mirror.gcr.io', 'mirror.gcr.io'],
    ['mirror.gcr.io/', 'mirror.gcr.io'],
    ['localhost:5000/hub/cache', 'localhost:5000/hub/cache'],
    ['127.0.0.1:8443', '127.0.0.1:8443'],
    ['[::1]:5000/hub', '[::1]:5000/hub'],
  ])('%s', (input, expected) => {
    expect(parseMirrorPrefix(input)).toBe(expected);
  });

  it.each([
    ['', /it is empty/],
    ['https://mirror.example.com/hub', /without a scheme/],
    ['docker-hub', /must start with a registry host .* not "docker-hub"/],
    ['docker-hub/cache', /not "docker-hub"/],
    ['mirror.example.com/hub:latest', /must not contain a tag/],
    [`mirror.example.com/hub@${DIGEST}`, /must not contain a digest/],
    ['mirror.example.com/Hub', /must be lowercase/],
    ['mirror.example.com//hub', /empty component/],
    ['mirror.example.com:99999', /port/],
    ['mirror.example.com/$(id)', /may only contain/],
    ['mirrоr.example.com', /non-ASCII/],
  ])('%j is refused', (input, message) => {
    expect(() => parseMirrorPrefix(input)).toThrow(ReferenceFormatError);
    expect(() => parseMirrorPrefix(input)).toThrow(`${JSON.stringify(input)} is not a valid mirror prefix: `);
    expect(() => parseMirrorPrefix(input)).toThrow(message);
  });
});

describe('repositoryName', () => {
  it('drops tag and digest', () => {
    expect(repositoryName(parseReference(`postgres:16@${DIGEST}`))).toBe('docker.io/library/postgres');
  });
});
