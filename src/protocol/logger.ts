/** The subset of pino the project's modules use; pino loggers satisfy it. The no-op one is `silentLogger` in src/shared/logger.ts. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  debug(msg: string): void;
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  warn(obj: object, msg?: string): void;
  warn(msg: string): void;
  error(obj: object, msg?: string): void;
  error(msg: string): void;
  /** Bind fixed fields such as `{ component: 'alerts', name: 'slack' }`. Never bind user-controlled keys. */
  child(bindings: Record<string, unknown>): Logger;
}
