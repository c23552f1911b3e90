/**
 * Bundle stand-in for the SDK's logger middleware. It hands each call's input and output (or
 * error) to the client's logger; regauth gives its clients none, so the logger is the SDK's
 * NoOpLogger, which the middleware skips on success and whose error() does nothing: it has no
 * effect for regauth, and the stack runs the same without it.
 */
export const loggerMiddlewareOptions = { name: 'loggerMiddleware', tags: ['LOGGER'], step: 'initialize', override: true };

export const loggerMiddleware = (): never => {
  throw new Error('regauth: the SDK logger middleware is not bundled; no client has a logger');
};

export const getLoggerPlugin = (): { applyToStack: () => void } => ({ applyToStack: () => undefined });
