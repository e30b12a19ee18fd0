/** Builds Notification objects (policy decides when; this decides what they say). */
import type { Notification, NotificationItem, Severity } from '../src/protocol';
import { notificationText, notificationTitle } from './templates';

export interface BuildNotificationParams {
  kind: Notification['kind'];
  dedupKey: string;
  rule: string;
  severity: Severity;
  groupLabels: Readonly<Record<string, string>>;
  summary: string;
  description?: string;
  startsAt: number;
  endsAt?: number;
  url?: string;
  items: readonly NotificationItem[];
  /** Count shown in the title (firing alerts); defaults to items.length. */
  count?: number;
}

export function buildNotification(p: BuildNotificationParams): Notification {
  const annotations: Record<string, string> = { summary: p.summary };
  if (p.description) annotations.description = p.description;
  const base: Omit<Notification, 'text' | 'title'> = {
    dedupKey: p.dedupKey,
    kind: p.kind,
    rule: p.rule,
    severity: p.severity,
    labels: { ...p.groupLabels },
    annotations,
    startsAt: p.startsAt,
    items: p.items,
  };
  if (p.endsAt !== undefined) base.endsAt = p.endsAt;
  if (p.url !== undefined) base.url = p.url;
  return { ...base, title: notificationTitle(p.kind, p.rule, p.count ?? p.items.length, p.groupLabels), text: notificationText(base) };
}

export interface InfoNotificationParams {
  /** What the notification is about, e.g. `domain_ingestion`. */
  pipeline: string;
  /** The run; part of the dedup key so one run notifies once. */
  runId: string;
  /** Epoch ms of the event (e.g. run success). */
  at: number;
  /** Defaults to "Pipeline <pipeline> succeeded". */
  summary?: string;
  description?: string;
  /** Name shown as the rule (default `send_success_notification`). */
  name?: string;
  labels?: Readonly<Record<string, string>>;
  /** Link to the run; built from `publicUrl` when absent. */
  url?: string;
  publicUrl?: string;
  durationMs?: number;
}

/** An info notification for `send_success_notification`: enqueue it with `outbox.enqueue(n, route.sinks, now)`. */
export function createInfoNotification(p: InfoNotificationParams): Notification {
  const name = p.name ?? 'send_success_notification';
  const summary = p.summary ?? `Pipeline ${p.pipeline} succeeded`;
  const url = p.url ?? (p.publicUrl ? `${p.publicUrl.replace(/\/+$/, '')}/api/v1/runs/${encodeURIComponent(p.runId)}` : undefined);
  const labels = { alertname: name, pipeline: p.pipeline, ...(p.labels ?? {}) };
  const item: NotificationItem = {
    name: p.pipeline,
    status: 'success',
    summary: `run ${p.runId}${p.durationMs !== undefined ? ` took ${Math.round(p.durationMs / 1000)}s` : ''}`,
    labels: { ...labels, run_id: p.runId },
  };
  return buildNotification({
    kind: 'info',
    dedupKey: `${name}|${p.pipeline}|${p.runId}`,
    rule: name,
    severity: 'info',
    groupLabels: labels,
    summary,
    ...(p.description !== undefined ? { description: p.description } : {}),
    startsAt: p.at,
    ...(url !== undefined ? { url } : {}),
    items: [item],
  });
}
