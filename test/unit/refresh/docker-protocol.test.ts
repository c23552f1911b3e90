import { describe, expect, it } from 'vitest';
import { dockerAnswer, hostFromServerUrl, listAnswer, parseStoreRequest } from '../../../src/refresh/docker-protocol.ts';

describe("docker's credential-helper protocol (apart from the refresh engine)", () => {
  it('reads a store request, and refuses one that is not {"ServerURL","Username","Secret"} or names a path', () => {
    expect(parseStoreRequest('{"ServerURL":"https://reg.example:5000/v2/","Username":"u","Secret":"s"}')).toEqual({ host: 'reg.example:5000', username: 'u', secret: 's' });
    for (const bad of ['not json', 'null', '{"ServerURL":"reg.example","Username":"u"}', '{"ServerURL":"../etc","Username":"u","Secret":"s"}']) expect(parseStoreRequest(bad)).toBeUndefined();
  });

  it('lists host → user name from get answers, leaving out damaged ones and non-hosts', () => {
    const answers = new Map([
      ['reg.example', dockerAnswer('reg.example', 'alice', 'secret')],
      ['broken.example', '{not json'],
      ['aws@aws-ecr-1', '{"Version":1}'],
    ]);
    expect(JSON.parse(listAnswer(answers))).toEqual({ 'reg.example': 'alice' });
    expect(hostFromServerUrl('https://reg.example/v1/')).toBe('reg.example');
  });
});
