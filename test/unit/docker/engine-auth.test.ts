import { describe, expect, it } from 'vitest';
import { localEngineSocket, readAuthAnswer } from '../../../src/docker/engine-auth.ts';

describe('localEngineSocket: the engine is asked directly only where docker itself would use a local socket', () => {
  const root = '/nonexistent/system-root';
  const at = (env: Record<string, string>, currentContext?: string) => localEngineSocket({ REGAUTH_TEST_SYSTEM_ROOT: root, ...env }, currentContext === undefined ? {} : { currentContext });
  it("uses docker's default socket when nothing names another engine", () => {
    expect(at({})).toBe(`${root}/var/run/docker.sock`);
    expect(at({ DOCKER_HOST: ' ' })).toBe(`${root}/var/run/docker.sock`);
    expect(at({}, 'default')).toBe(`${root}/var/run/docker.sock`);
    expect(at({ DOCKER_CONTEXT: 'default' })).toBe(`${root}/var/run/docker.sock`);
  });
  it('follows a unix:// DOCKER_HOST, also under the default context', () => {
    expect(at({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toBe('/run/user/1000/docker.sock');
    expect(at({ DOCKER_HOST: 'unix:///tmp/d.sock', DOCKER_CONTEXT: 'default' })).toBe('/tmp/d.sock');
    expect(at({ DOCKER_HOST: 'unix:///tmp/d.sock' }, 'remote')).toBe('/tmp/d.sock');
  });
  it('leaves TCP, TLS and ssh engines, contexts and odd values to the docker CLI', () => {
    for (const DOCKER_HOST of ['tcp://10.0.0.5:2376', 'ssh://user@builder', 'unix://relative.sock', 'npipe:////./pipe/docker_engine', 'fd://']) {
      expect(at({ DOCKER_HOST })).toBeUndefined();
    }
    expect(at({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_CONTEXT: 'default' })).toBeUndefined();
    // DOCKER_CONTEXT wins over DOCKER_HOST, as in docker.
    expect(at({ DOCKER_CONTEXT: 'remote', DOCKER_HOST: 'unix:///tmp/d.sock' })).toBeUndefined();
    expect(at({}, 'remote')).toBeUndefined();
  });
});

describe("readAuthAnswer: only the engine's plain yes spares docker login", () => {
  it('accepts 200 with no identity token', () => {
    expect(readAuthAnswer(200, '{"Status":"Login Succeeded","IdentityToken":""}')).toEqual({ accepted: true });
    expect(readAuthAnswer(200, '{"Status":"Login Succeeded"}')).toEqual({ accepted: true });
  });
  it('sends everything else to docker login: refusals, identity tokens, odd bodies', () => {
    expect(readAuthAnswer(401, '{"message":"login attempt failed"}')).toEqual({ accepted: false, why: 'the engine answered 401' });
    expect(readAuthAnswer(500, '')).toEqual({ accepted: false, why: 'the engine answered 500' });
    expect(readAuthAnswer(undefined, '')).toEqual({ accepted: false, why: 'the engine answered nothing' });
    expect(readAuthAnswer(200, '{"Status":"Login Succeeded","IdentityToken":"refresh-token"}')).toEqual({ accepted: false, why: 'the registry gave an identity token for docker to keep' });
    expect(readAuthAnswer(200, '<html>')).toEqual({ accepted: false, why: 'the engine answered no JSON' });
  });
});
