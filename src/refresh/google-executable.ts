/**
 * Google's executable-sourced credential response (external_account files with
 * `credential_source.executable`): the job token as an OIDC id_token, or a failure with a code.
 */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export function googleExecutableSuccess(idToken: string, expirationTime: number): string {
  return JSON.stringify({ version: 1, success: true, token_type: JWT_TOKEN_TYPE, id_token: idToken, expiration_time: expirationTime });
}

export function googleExecutableFailure(code: string, message: string): string {
  return JSON.stringify({ version: 1, success: false, code, message: message.replace(/[\r\n]+/g, ' ') });
}
