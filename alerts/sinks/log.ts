/** Writes notifications to the supervisor's log (useful with no other sink, and in the demo). */
import type { AlertSink, Logger } from '../../src/protocol';

export function createLogSink(name: string, logger: Logger): AlertSink {
  const log = logger.child({ component: 'alerts', name: `sink:${name}` });
  return {
    name,
    type: 'log',
    async deliver(n) {
      const fields = { rule: n.rule, kind: n.kind, severity: n.severity, dedupKey: n.dedupKey, labels: n.labels };
      if (n.kind === 'firing' && n.severity !== 'info') log.warn(fields, n.text);
      else log.info(fields, n.text);
    },
  };
}
