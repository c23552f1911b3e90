/**
 * Bundle stand-in for @aws/lambda-invoke-store, read by the SDK's recursion-detection
 * middleware for the current Lambda invocation's trace ids. Outside the Lambda runtime the
 * store is always empty (nothing runs an invocation in it), which `undefined` expresses: the
 * middleware still honours _X_AMZN_TRACE_ID with AWS_LAMBDA_FUNCTION_NAME from the env.
 */
export const InvokeStore = {
  getInstanceAsync: async (): Promise<undefined> => undefined,
};
