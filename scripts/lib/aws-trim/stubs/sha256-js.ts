/**
 * Bundle stand-in for @smithy/core's pure-JS SHA-256, which Sha256Node uses only when
 * node:crypto cannot hash sha256 (never on the node ≥ 18 the launcher requires).
 */
export class Sha256Js {
  constructor() {
    throw new Error('regauth: node:crypto has no sha256; the pure-JS fallback is not bundled');
  }
}
