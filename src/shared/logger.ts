/** The no-op `Logger` (the interface is in src/protocol/logger.ts). */
import type { Logger } from '../protocol';

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
