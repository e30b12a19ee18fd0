/** Progress output of the stack manager: one line per step on stderr, prefixed with the service. */
export interface StackLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export function consoleLog(prefix = 'stack'): StackLog {
  return {
    info: (msg) => process.stderr.write(`[${prefix}] ${msg}\n`),
    warn: (msg) => process.stderr.write(`[${prefix}] WARNING: ${msg}\n`),
  };
}

export const silentLog: StackLog = { info: () => undefined, warn: () => undefined };
