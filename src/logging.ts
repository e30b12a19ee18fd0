import pino from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { Logger } from './protocol';

export interface CreateLoggerParams {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  /** Where lines go; stderr by default so stdout stays clean for command output. */
  destination?: NodeJS.WritableStream;
}

/** Field names whose values never reach a log line. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'url',
  '*.webhookUrl',
  'secret_access_key',
  '*.secret_access_key',
  'secretAccessKey',
  '*.secretAccessKey',
];

/** pino, JSON by default, pretty on a TTY; secrets redacted. */
export function createLogger({ level, format, destination = process.stderr }: CreateLoggerParams): Logger & pino.Logger {
  const usePretty = format === 'pretty' || (format === 'auto' && (destination as NodeJS.WriteStream).isTTY === true);
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // pino-pretty (and its dependencies) only for a terminal: a daemon writing JSON never loads it
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = (): ((o: PrettyOptions) => NodeJS.WritableStream) => require('pino-pretty') as (o: PrettyOptions) => NodeJS.WritableStream;
  const stream = usePretty ? pretty()({ colorize: true, destination: destination, sync: true, ignore: 'pid,hostname' }) : destination;
  return pino(options, stream as pino.DestinationStream);
}

/** Removes credentials from a URL for logs and API output: user:pass@ and query tokens. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username || url.password) {
      url.username = '***';
      url.password = '';
    }
    return url.toString();
  } catch {
    return '[unparseable url]';
  }
}
