/** Doubles for the alert engine's modules tested one by one: an in-memory alert state store, a recording logger. */
import type { AlertGroupRecord, AlertRecord, AlertStateStore, Logger } from '../../../src/protocol';

/** An AlertStateStore in memory; `failWrites` makes every save/delete throw. */
export class MemoryAlertStore implements AlertStateStore {
  readonly alerts = new Map<string, AlertRecord>();
  readonly groups = new Map<string, AlertGroupRecord>();
  failWrites = false;

  loadAlerts(): AlertRecord[] {
    return [...this.alerts.values()].map((r) => structuredClone(r));
  }
  saveAlert(record: AlertRecord): void {
    if (this.failWrites) throw new Error('disk full');
    this.alerts.set(record.key, structuredClone(record));
  }
  deleteAlert(key: string): void {
    if (this.failWrites) throw new Error('disk full');
    this.alerts.delete(key);
  }
  loadGroups(): AlertGroupRecord[] {
    return [...this.groups.values()].map((g) => structuredClone(g));
  }
  saveGroup(record: AlertGroupRecord): void {
    if (this.failWrites) throw new Error('disk full');
    this.groups.set(record.key, structuredClone(record));
  }
  deleteGroup(key: string): void {
    if (this.failWrites) throw new Error('disk full');
    this.groups.delete(key);
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  obj: object;
}

/** A logger that keeps every line. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (a: object | string, msg?: string): void => {
      if (typeof a === 'string') lines.push({ level, msg: a, obj: {} });
      else lines.push({ level, msg: msg ?? '', obj: a });
    };
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}
