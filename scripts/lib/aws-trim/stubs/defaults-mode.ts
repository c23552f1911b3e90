/**
 * Bundle stand-in for @smithy/core's defaults mode (AWS_DEFAULTS_MODE / `defaults_mode`: "auto"
 * asks the EC2 instance metadata service for the region) and the timeouts and retry mode each
 * mode implies. A client evaluates it only for a requestHandler or retryMode it was not given,
 * and src/clouds/aws/sdk.ts gives every client both: the provider is built, never called.
 */
const notBundled = (): never => {
  throw new Error('regauth: the SDK defaults mode is not bundled; every client gets its requestHandler and retryMode');
};

export const resolveDefaultsModeConfig = (): (() => Promise<never>) => async () => notBundled();

export const loadConfigsForDefaultMode = (): never => notBundled();
