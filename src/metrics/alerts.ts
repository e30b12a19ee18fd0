/**
 * Alert engine metrics, read from the engine's facts at scrape time: instances firing per rule
 * and the errors the engine survived per stage.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertFacts } from '../protocol';

export interface AlertMetricsParams {
  registry: Registry;
  alerts: AlertFacts;
}

export function registerAlertMetrics({ registry, alerts }: AlertMetricsParams): void {
  new Counter({
    name: 'supervisor_alerts_evaluation_errors_total',
    help: 'Errors the alert engine survived, by stage (event: one input event; tick: a timed evaluation; input: an input stream failed and was re-subscribed; silences: reading silences; store: persisting alert state; notify: enqueueing a notification).',
    labelNames: ['stage'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [stage, n] of Object.entries(alerts.errorCounts())) if (n > 0) this.inc({ stage }, n);
    },
  });
  new Gauge({
    name: 'supervisor_alerts_firing',
    help: 'Alert instances currently firing, by rule and severity (silenced and inhibited included).',
    labelNames: ['rule', 'severity'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { rule, severity, firing } of alerts.firingByRule()) this.set({ rule, severity }, firing);
    },
  });
}
