/**
 * What a group notification says and how it is keyed: the dedup keys (deterministic, so a
 * restart re-derives the same ones and the outbox ignores the repeat), one NotificationItem
 * per alert, and the Notification of a firing or resolved group (summary, link, start/end).
 * Policy (when to send) is in alerts/grouping.ts; the wording in alerts/templates.ts.
 */
import type { AlertGroupRecord, AlertRecord, Notification, NotificationItem, Severity } from '../src/protocol';
import { buildNotification } from './notifications';

/** `<group>|firing|<episode start>|<n>`: n = 0 first, then each change or repeat. */
export function firingDedupKey(groupKey: string, episodeSince: number, sequence: number): string {
  return `${groupKey}|firing|${episodeSince}|${sequence}`;
}

/** `<group>|firing|<episode start>|resend|<k>`: the k-th re-send to a sink with its own cadence (Alertmanager). */
export function resendDedupKey(groupKey: string, episodeSince: number, k: number): string {
  return `${groupKey}|firing|${episodeSince}|resend|${k}`;
}

/** `<group>|resolved|<episode start>`. */
export function resolvedDedupKey(groupKey: string, episodeSince: number): string {
  return `${groupKey}|resolved|${episodeSince}`;
}

/** One alert as a line of a notification. */
export function alertItem(r: AlertRecord): NotificationItem {
  const name = r.labels.check ?? r.labels.pipeline ?? r.rule;
  const out: NotificationItem = { name, status: r.state === 'resolved' ? 'resolved' : (r.status ?? r.state), summary: r.summary, labels: r.labels };
  if (r.value !== undefined) out.value = r.value;
  if (r.threshold !== undefined) out.threshold = r.threshold;
  if (r.unit !== undefined) out.unit = r.unit;
  if (r.firedAt !== undefined) out.since = r.firedAt;
  if (r.resolvedAt !== undefined) out.endsAt = r.resolvedAt;
  return out;
}

export interface GroupNotificationParams {
  kind: 'firing' | 'resolved';
  rule: { name: string; severity: Severity };
  group: Pick<AlertGroupRecord, 'labels' | 'episodeSince'>;
  dedupKey: string;
  /** Firing alerts, in key order. */
  active: readonly AlertRecord[];
  /** Alerts resolved since the last notification (firing kind) or the group's alerts (resolved kind). */
  resolved: readonly AlertRecord[];
  now: number;
  /** Link when the alerts do not share one (the health page). */
  fallbackUrl?: string;
}

/**
 * The notification of a group: a firing one with more than one alert counts them in its
 * summary; the link is the alerts' own when they share one; a resolved one ends at the last
 * alert's resolution.
 */
export function buildGroupNotification(p: GroupNotificationParams): Notification {
  const { kind, rule, group, active, resolved, now } = p;
  const lead = active[0] ?? resolved[0];
  const summary =
    active.length + resolved.length > 1 && kind === 'firing'
      ? `${active.length} ${rule.name} alert(s) firing${resolved.length ? `, ${resolved.length} resolved` : ''}: ${lead?.summary ?? ''}`
      : (lead?.summary ?? rule.name);
  const urls = new Set([...active, ...resolved].map((r) => r.url).filter((u): u is string => !!u));
  const url = urls.size === 1 ? [...urls][0] : p.fallbackUrl;
  return buildNotification({
    kind,
    dedupKey: p.dedupKey,
    rule: rule.name,
    severity: rule.severity,
    groupLabels: group.labels,
    summary,
    ...(lead?.description !== undefined && active.length + resolved.length === 1 ? { description: lead.description } : {}),
    startsAt: group.episodeSince,
    ...(kind === 'resolved' ? { endsAt: Math.max(now, ...resolved.map((r) => r.resolvedAt ?? now)) } : {}),
    ...(url !== undefined ? { url } : {}),
    items: [...active, ...resolved].map(alertItem),
    count: kind === 'firing' ? active.length : resolved.length,
  });
}
