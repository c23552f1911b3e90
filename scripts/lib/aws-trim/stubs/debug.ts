/** Bundle stand-in for `debug` (used only for DEBUG=… tracing inside the proxy agents). */
type Debugger = ((...args: unknown[]) => void) & { enabled: boolean; extend: () => Debugger };

function createDebug(): Debugger {
  const log = (() => undefined) as Debugger;
  log.enabled = false;
  log.extend = () => log;
  return log;
}
createDebug.enable = (): void => undefined;
createDebug.disable = (): string => '';
createDebug.enabled = (): boolean => false;

export default createDebug;
