/**
 * Bundle stand-in for @smithy/core's region lookup in the EC2 instance metadata service: the
 * last fallback of a client given no region (and of defaults mode "auto", see defaults-mode.ts).
 * src/clouds/aws/sdk.ts gives every client its region, so the region chain never runs.
 */
export const getInstanceMetadataRegion = async (): Promise<never> => {
  throw new Error('regauth: the region lookup in the instance metadata service is not bundled; every client gets its region');
};
