/**
 * Bundle stand-in for @aws-sdk/credential-provider-node. regauth always passes credentials
 * explicitly (ECR, ECR Public) or calls an unsigned operation (STS AssumeRoleWithWebIdentity),
 * so the SDK never asks the default chain; if it ever did, this says so instead of guessing.
 */
export const defaultProvider = (): (() => Promise<never>) => () =>
  Promise.reject(new Error('regauth: the AWS default credential chain is not bundled; credentials must be passed explicitly'));
