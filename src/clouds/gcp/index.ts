/** regauth's Google layer: STS token exchange, IAM Credentials impersonation, credential-file export. */
export {
  mintGoogleAccessToken,
  providerAudience,
  stsTokenUrl,
  generateAccessTokenUrl,
  DEFAULT_GOOGLE_ENDPOINTS,
  CLOUD_PLATFORM_SCOPE,
  type GoogleEndpoints,
  type GoogleMintSettings,
  type GoogleMintDeps,
  type GoogleAccessToken,
} from './mint.ts';
export { DEFAULT_GOOGLE_RETRY_POLICY, DEFAULT_GOOGLE_TIMEOUT_MS, type GoogleCallDeps } from './call.ts';
export { GoogleCallError, googleFailureWhat, classifyGoogleResponse, classifyNetworkError, sanitizeGoogleMessage, isSubjectTooLong, type GoogleErrorClass, type GoogleOperation } from './errors.ts';
export { externalAccountConfig, writeExternalAccountFile, externalAccountFilePath, jobTokenFilePath, jobTokenFileSource, privateDirectory, type CredentialSource, type ExportedCredentialFile } from './credential-file.ts';
export { nodePost, DeadlineExceededError, type GooglePost, type GoogleHttpRequest, type GoogleHttpResponse } from './http.ts';
export * from './validate.ts';
