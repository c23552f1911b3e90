/**
 * Bundle stand-in for @aws-sdk/signature-v4-multi-region, STS's signer. regauth calls STS
 * only for the unsigned AssumeRoleWithWebIdentity: a signed scheme would first need an
 * identity from the (stubbed, throwing) default credential chain, so no signer is ever built.
 * No SigV4a implementation is registered in the bundle, as the real class would report.
 */
export class SignatureV4MultiRegion {
  static sigv4aDependency(): 'none' {
    return 'none';
  }

  constructor() {
    throw new Error('regauth: signed STS requests are not bundled; STS is only called unsigned');
  }
}
