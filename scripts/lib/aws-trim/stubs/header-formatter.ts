/**
 * Bundle stand-in for @smithy/signature-v4's event-stream header encoder: SignatureV4 creates
 * one per signer but only signMessage (event streams, which regauth never uses) calls it.
 */
export class HeaderFormatter {
  format(): never {
    throw new Error('regauth: event-stream signing is not bundled');
  }
}
