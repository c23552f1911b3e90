/** regauth's AWS layer: STS web identity, ECR and ECR Public tokens, and pure checks. */
export { assumeRoleWithWebIdentity, type AssumeRoleInput, type AssumedRole, type AwsCredentials } from './sts.ts';
export {
  getEcrAuthorization,
  getEcrPublicAuthorization,
  decodeAuthorizationToken,
  registryHostFromProxyEndpoint,
  ECR_PUBLIC_REGISTRY,
  type RegistryLogin,
  type EcrAuthorizationInput,
} from './ecr.ts';
export { AwsCallError, awsFailureWhat, classifyAwsError, describeAwsFailure, sanitizeAwsMessage, type AwsErrorClass, type AwsErrorKind, type AwsOperation } from './errors.ts';
export { DEFAULT_AWS_RETRY_POLICY, type AwsRetryOptions } from './call.ts';
export { ProxyAwareHttpHandler } from './http.ts';
export { deriveRoleSessionName, sanitizeRoleSessionName } from './session-name.ts';
export * from './validate.ts';
