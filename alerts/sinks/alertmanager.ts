/**
 * Alertmanager API v2: `POST /api/v2/alerts` with one alert per notification item. Firing
 * alerts carry no endsAt (the engine re-sends them every resend_interval so Alertmanager
 * keeps them active); resolved ones carry `endsAt`. Info notifications are not alerts and are
 * skipped.
 */
import type { AlertSink, Notification } from '../../src/protocol';
import type { AlertmanagerSinkConfig } from '../config';
import { postJson } from './http';

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function cleanLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (LABEL_NAME.test(k) && v !== '') out[k] = v;
  return out;
}

export function alertmanagerAlerts(n: Notification): Array<Record<string, unknown>> {
  const items = n.items.length > 0 ? n.items : [{ name: n.rule, status: n.kind, summary: n.annotations.summary ?? n.title, labels: n.labels }];
  return items.map((item) => {
    const labels = cleanLabels({ ...n.labels, ...(item.labels ?? {}), alertname: item.labels?.alertname ?? n.rule, severity: n.severity });
    const annotations: Record<string, string> = { ...n.annotations, summary: item.summary || n.annotations.summary || n.title };
    if (item.value !== undefined) annotations.value = String(item.value);
    if (item.threshold !== undefined) annotations.threshold = String(item.threshold);
    const resolved = n.kind === 'resolved' || item.status === 'resolved';
    const endsAt = resolved ? (item.endsAt ?? n.endsAt ?? Date.now()) : undefined;
    return {
      labels,
      annotations,
      startsAt: new Date(item.since ?? n.startsAt).toISOString(),
      ...(endsAt !== undefined ? { endsAt: new Date(endsAt).toISOString() } : {}),
      ...(n.url ? { generatorURL: n.url } : {}),
    };
  });
}

export function createAlertmanagerSink(name: string, config: AlertmanagerSinkConfig): AlertSink {
  const url = `${config.url.replace(/\/+$/, '')}/api/v2/alerts`;
  return {
    name,
    type: 'alertmanager',
    async deliver(notification, signal) {
      if (notification.kind === 'info') return;
      await postJson({ what: `alertmanager sink "${name}"`, url, body: JSON.stringify(alertmanagerAlerts(notification)), timeoutMs: config.timeout, signal });
    },
  };
}
