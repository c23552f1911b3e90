/**
 * Bundle stand-in for @smithy/core's S3 endpoint-parameter customisations, which
 * getEndpointFromInstructions calls only when the client's serviceId is "s3" (regauth's are
 * STS, ECR and ECR PUBLIC).
 */
export const resolveParamsForS3 = (): never => {
  throw new Error('regauth: S3 endpoint customisations are not bundled');
};
