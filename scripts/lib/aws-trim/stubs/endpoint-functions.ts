/**
 * Bundle stand-ins for endpoint rule-set functions that no bundled rule set calls: rules name
 * their functions as data (`fn: "isSet"`), and STS's, ECR's and ECR Public's call only isSet,
 * stringEquals, booleanEquals, getAttr and aws.partition. scripts/lib/aws-trim/bundle-options.ts checks
 * every bundled rule set for these names and fails the build if one appears.
 */
const unbundled =
  (name: string) =>
  (): never => {
    throw new Error(`regauth: the endpoint rule function ${name} is not bundled`);
  };

export const coalesce = unbundled('coalesce');
export const ite = unbundled('ite');
export const not = unbundled('not');
export const parseURL = unbundled('parseURL');
export const split = unbundled('split');
export const substring = unbundled('substring');
export const uriEncode = unbundled('uriEncode');
export const isVirtualHostableS3Bucket = unbundled('aws.isVirtualHostableS3Bucket');
export const parseArn = unbundled('aws.parseArn');
