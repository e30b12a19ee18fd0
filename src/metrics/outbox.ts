/**
 * Notification delivery metrics, read from the outbox worker's facts at scrape time: delivery
 * attempts per sink and result, the outbox's depth, and the store errors the worker survived.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutboxFacts } from '../protocol';

export interface OutboxMetricsParams {
  registry: Registry;
  outbox: OutboxFacts;
}

export function registerOutboxMetrics({ registry, outbox }: OutboxMetricsParams): void {
  const registers = [registry];
  new Counter({
    name: 'supervisor_alerts_outbox_errors_total',
    help: 'Outbox store errors the delivery loop survived (retried with backoff), by operation.',
    labelNames: ['operation'] as const,
    registers,
    collect() {
      this.reset();
      for (const [operation, n] of Object.entries(outbox.errorCounts())) if (n > 0) this.inc({ operation }, n);
    },
  });
  new Counter({
    name: 'supervisor_alert_notifications_total',
    help: 'Notification delivery attempts by sink and result (delivered, retry, dead).',
    labelNames: ['sink', 'result'] as const,
    registers,
    collect() {
      this.reset();
      for (const { sink, result, count } of outbox.deliveryCounts()) this.inc({ sink, result }, count);
    },
  });
  new Gauge({
    name: 'supervisor_alert_outbox_pending',
    help: 'Notifications waiting in the outbox for delivery.',
    registers,
    collect() {
      try {
        this.set(outbox.pendingCount());
      } catch {
        // the store may be closed while the registry is scraped; keep the last value
      }
    },
  });
}
