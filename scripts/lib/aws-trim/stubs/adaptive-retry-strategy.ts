/**
 * Bundle stand-in for @smithy/core's AdaptiveRetryStrategy (and the client-side rate limiter it
 * brings): the SDK builds it only when retryMode is "adaptive", and src/clouds/aws/sdk.ts fixes
 * retryMode to "standard" for every client, whatever AWS_RETRY_MODE or ~/.aws/config says.
 */
export class AdaptiveRetryStrategy {
  constructor() {
    throw new Error('regauth: the adaptive retry mode is not bundled; retryMode is always "standard"');
  }
}
