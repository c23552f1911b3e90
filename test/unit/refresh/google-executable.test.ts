import { describe, expect, it } from 'vitest';
import { googleExecutableFailure, googleExecutableSuccess } from '../../../src/refresh/google-executable.ts';

describe('google executable-sourced response', () => {
  it('has Google\'s fields, on one line', () => {
    expect(JSON.parse(googleExecutableSuccess('a.b.c', 1700000000))).toEqual({ version: 1, success: true, token_type: 'urn:ietf:params:oauth:token-type:jwt', id_token: 'a.b.c', expiration_time: 1700000000 });
    expect(JSON.parse(googleExecutableFailure('E', 'two\nlines'))).toEqual({ version: 1, success: false, code: 'E', message: 'two lines' });
  });
});
