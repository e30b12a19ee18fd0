import type { Logger } from '../../src/protocol';

/** A Logger that keeps every line (level and message), children included. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const make = (): Logger & { lines: typeof lines } => ({
    lines,
    debug: (o: unknown, m?: string) => void lines.push({ level: 'debug', msg: typeof o === 'string' ? o : (m ?? '') }),
    info: (o: unknown, m?: string) => void lines.push({ level: 'info', msg: typeof o === 'string' ? o : (m ?? '') }),
    warn: (o: unknown, m?: string) => void lines.push({ level: 'warn', msg: typeof o === 'string' ? o : (m ?? '') }),
    error: (o: unknown, m?: string) => void lines.push({ level: 'error', msg: typeof o === 'string' ? o : (m ?? '') }),
    child: () => make(),
  });
  return make();
}
