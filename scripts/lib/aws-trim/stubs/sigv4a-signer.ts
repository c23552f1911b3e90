/**
 * Bundle stand-in for @aws-sdk/core's SigV4a signer, which only STS's config lists: like the
 * multi-region signer stub, a SigV4a scheme is chosen only after the (stubbed, throwing)
 * default credential chain returns an identity, which it never does, so no method runs.
 */
export class AwsSdkSigV4ASigner {
  async sign(): Promise<never> {
    throw new Error('regauth: SigV4a signing is not bundled');
  }
}
