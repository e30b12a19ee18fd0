/**
 * Grouping and notification policy: the firing alerts of one rule are grouped by the route's
 * `group_by`; a group notifies after `group_wait`, again when its alerts change (at most every
 * `group_interval`) or every `repeat_interval`, to sinks with their own cadence every resend
 * interval, and once resolved when its last alert resolves (`send_resolved`). Silenced or
 * inhibited alerts do not count as active. Group state is written to the AlertStateStore so a
 * restart continues the same episode (same dedup keys).
 */
import type { AlertGroupRecord, AlertStateStore, Logger } from '../src/protocol';
import type { AlertRule, RouteConfig } from './config';
import { alertKey, type AlertInstance } from './evaluation';
import { firingDedupKey, resendDedupKey, resolvedDedupKey } from './notification-builder';

/** The labels a group is keyed by: the `group_by` labels the alert has, or all of them for `['...']`. */
export function groupLabelsOf(labels: Readonly<Record<string, string>>, groupBy: readonly string[]): Record<string, string> {
  if (groupBy.includes('...')) return { ...labels };
  const out: Record<string, string> = {};
  for (const l of groupBy) {
    const v = labels[l];
    if (v !== undefined) out[l] = v;
  }
  return out;
}

/** The rule's own sinks, else the route's. */
export function sinksOf(rule: Pick<AlertRule, 'sinks'>, route: Pick<RouteConfig, 'sinks'>): string[] {
  return rule.sinks ?? route.sinks;
}

/** A notification the policy decided to send. */
export interface GroupNotice {
  kind: 'firing' | 'resolved';
  rule: AlertRule;
  group: AlertGroupRecord;
  dedupKey: string;
  active: AlertInstance[];
  resolved: AlertInstance[];
  sinks: readonly string[];
}

export interface AlertGroupsParams {
  route: RouteConfig;
  rulesByName: ReadonlyMap<string, AlertRule>;
  /** Sink name → re-send interval (ms) of firing alerts. */
  resendIntervals?: Readonly<Record<string, number>>;
  store: Pick<AlertStateStore, 'loadGroups' | 'saveGroup' | 'deleteGroup'>;
  logger: Logger;
  /** The alert instances. */
  alerts: { get(key: string): AlertInstance | undefined; values(): Iterable<AlertInstance> };
  /** Whether an alert is silenced or inhibited at `now` (asked only of firing alerts). */
  isMuted(alert: AlertInstance, now: number): boolean;
  /** Sends a notification (synchronously: a throw leaves the group unchanged, so the next evaluation decides again). */
  send(notice: GroupNotice, now: number): void;
  /** The store refused a write (logged here). */
  onStoreError?: () => void;
  /** Evaluating one group failed (logged here; retried at the next evaluation). */
  onGroupError?: () => void;
}

interface Members {
  rule: AlertRule;
  labels: Record<string, string>;
  alerts: AlertInstance[];
}

export class AlertGroups {
  private readonly groups = new Map<string, AlertGroupRecord>();
  /** `<group>\0<sink>` → last re-send number sent in this episode. */
  private readonly lastResend = new Map<string, number>();
  private readonly p: AlertGroupsParams;
  private readonly onStoreError: () => void;
  private readonly onGroupError: () => void;

  constructor(params: AlertGroupsParams) {
    this.p = params;
    this.onStoreError = params.onStoreError ?? (() => undefined);
    this.onGroupError = params.onGroupError ?? (() => undefined);
  }

  get size(): number {
    return this.groups.size;
  }

  get(key: string): AlertGroupRecord | undefined {
    return this.groups.get(key);
  }

  /** Loads the stored groups; one of a rule that no longer exists is deleted from the store. */
  restore(): void {
    for (const group of this.p.store.loadGroups()) {
      if (!this.p.rulesByName.has(group.rule)) {
        this.p.store.deleteGroup(group.key);
        continue;
      }
      this.groups.set(group.key, group);
    }
  }

  /** Alert keys some group still lists (their resolved alerts are kept until the group lets go). */
  referencedAlerts(): Set<string> {
    return new Set([...this.groups.values()].flatMap((g) => g.notifiedAlerts));
  }

  /** Groups the alerts and lets every group (current or stored) decide whether to notify at `now`. */
  evaluate(now: number): void {
    const members = new Map<string, Members>();
    for (const inst of this.p.alerts.values()) {
      const labels = groupLabelsOf(inst.record.labels, this.p.route.group_by);
      const key = alertKey(inst.rule.name, labels);
      let g = members.get(key);
      if (!g) members.set(key, (g = { rule: inst.rule, labels, alerts: [] }));
      g.alerts.push(inst);
    }
    const keys = new Set([...members.keys(), ...this.groups.keys()]);
    for (const key of keys) {
      try {
        this.evaluateGroup(key, members.get(key), now);
      } catch (err) {
        this.onGroupError();
        this.p.logger.error({ group: key, err: (err as Error).message }, 'cannot evaluate alert group; retried at the next evaluation');
      }
    }
  }

  private evaluateGroup(key: string, m: Members | undefined, now: number): void {
    const { route, alerts } = this.p;
    let group = this.groups.get(key);
    const rule = m?.rule ?? (group ? this.p.rulesByName.get(group.rule) : undefined);
    if (!rule) {
      if (group) this.dropGroup(key);
      return;
    }
    const all = (m?.alerts ?? []).slice().sort((a, b) => byCodePoint(a.record.key, b.record.key));
    const active = all.filter((i) => i.record.state === 'firing' && !this.p.isMuted(i, now));
    const activeKeys = active.map((i) => i.record.key);
    const sinks = sinksOf(rule, route);

    if (active.length > 0) {
      if (!group) {
        const episodeSince = Math.min(...active.map((i) => i.record.firedAt ?? now));
        if (now - episodeSince < route.group_wait) return;
        group = { key, rule: rule.name, labels: m!.labels, episodeSince, sequence: 0, lastNotifiedAt: now, notifiedAlerts: [] };
        this.p.send({ kind: 'firing', rule, group, dedupKey: firingDedupKey(key, episodeSince, 0), active, resolved: [], sinks }, now);
        group.sequence = 1;
        group.notifiedAlerts = activeKeys;
        this.saveGroup(group);
      } else {
        const notified = group.notifiedAlerts;
        const changed = activeKeys.length !== notified.length || activeKeys.some((k, i) => notified[i] !== k);
        const repeatDue = now - group.lastNotifiedAt >= (rule.repeat_interval ?? route.repeat_interval);
        if ((changed && now - group.lastNotifiedAt >= route.group_interval) || repeatDue) {
          const activeSet = new Set(activeKeys);
          const resolvedSinceLast = notified
            .filter((k) => !activeSet.has(k))
            .map((k) => alerts.get(k))
            .filter((i): i is AlertInstance => i?.record.state === 'resolved');
          const dedupKey = firingDedupKey(key, group.episodeSince, group.sequence);
          this.p.send({ kind: 'firing', rule, group, dedupKey, active, resolved: route.send_resolved ? resolvedSinceLast : [], sinks }, now);
          group.sequence += 1;
          group.lastNotifiedAt = now;
          group.notifiedAlerts = activeKeys;
          this.saveGroup(group);
        }
      }
      this.resend(key, rule, group, active, sinks, now);
      return;
    }

    if (!group) return;
    const stillFiring = group.notifiedAlerts.filter((k) => alerts.get(k)?.record.state === 'firing');
    if (stillFiring.length > 0) return; // silenced or inhibited while firing: stay quiet, resolve later
    if (route.send_resolved) {
      const resolved = group.notifiedAlerts.map((k) => alerts.get(k)).filter((i): i is AlertInstance => i !== undefined);
      this.p.send({ kind: 'resolved', rule, group, dedupKey: resolvedDedupKey(key, group.episodeSince), active: [], resolved, sinks }, now);
    }
    this.dropGroup(key);
  }

  /** Sinks that want firing alerts re-sent on their own cadence (Alertmanager's resolve_timeout): once per interval of the episode. */
  private resend(key: string, rule: AlertRule, group: AlertGroupRecord, active: AlertInstance[], sinks: readonly string[], now: number): void {
    for (const sink of sinks) {
      const interval = this.p.resendIntervals?.[sink];
      if (!interval || interval <= 0) continue;
      const k = Math.floor((now - group.episodeSince) / interval);
      const rk = `${key}\u0000${sink}`;
      if (k < 1 || this.lastResend.get(rk) === k) continue;
      this.lastResend.set(rk, k);
      this.p.send({ kind: 'firing', rule, group, dedupKey: resendDedupKey(key, group.episodeSince, k), active, resolved: [], sinks: [sink] }, now);
    }
  }

  private saveGroup(group: AlertGroupRecord): void {
    this.groups.set(group.key, group);
    try {
      this.p.store.saveGroup(group);
    } catch (err) {
      this.onStoreError();
      this.p.logger.error({ group: group.key, err: (err as Error).message }, 'cannot persist alert group state');
    }
  }

  private dropGroup(key: string): void {
    this.groups.delete(key);
    for (const rk of [...this.lastResend.keys()]) if (rk.startsWith(`${key}\u0000`)) this.lastResend.delete(rk);
    try {
      this.p.store.deleteGroup(key);
    } catch (err) {
      this.onStoreError();
      this.p.logger.error({ group: key, err: (err as Error).message }, 'cannot delete alert group state');
    }
  }
}

/** Code-point order. localeCompare would map ICU collation data (~2 MB) into the process for no gain on ASCII keys. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
