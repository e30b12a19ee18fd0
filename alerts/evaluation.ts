/**
 * Alert instances and their state machine: observations (alerts/observations.ts) move an
 * instance of `rule × labels` pending → firing (after `for`) → resolved (after
 * `keep_firing_for` without the condition); a pending instance whose condition clears is
 * dropped. Every change is written to the AlertStateStore; a store error is logged and
 * counted, never thrown.
 */
import type { AlertRecord, AlertStateStore, Logger } from '../src/protocol';
import type { AlertRule } from './config';
import { labelsKey } from './matchers';
import type { Observation } from './observations';

export interface AlertInstance {
  record: AlertRecord;
  rule: AlertRule;
  /** Last observation's condition (unknown after a restart until the next observation). */
  lastCondition: boolean | undefined;
}

/** `rule|labelset`: the key of an alert instance (and, with the group labels, of a group). */
export function alertKey(rule: string, labels: Readonly<Record<string, string>>): string {
  return `${rule}|${labelsKey(labels)}`;
}

export interface AlertInstancesParams {
  store: Pick<AlertStateStore, 'loadAlerts' | 'saveAlert' | 'deleteAlert'>;
  logger: Logger;
  /** Called when the store refuses a write (the error is logged here). */
  onStoreError?: () => void;
}

/** The alert instances by key, with a version bumped whenever one appears, disappears or changes state. */
export class AlertInstances {
  private readonly byKey = new Map<string, AlertInstance>();
  private changes = 0;
  private readonly store: AlertInstancesParams['store'];
  private readonly logger: Logger;
  private readonly onStoreError: () => void;

  constructor(params: AlertInstancesParams) {
    this.store = params.store;
    this.logger = params.logger;
    this.onStoreError = params.onStoreError ?? (() => undefined);
  }

  /** Bumped whenever an instance appears, disappears or changes state (keys derived indexes such as inhibition's). */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): AlertInstance | undefined {
    return this.byKey.get(key);
  }

  values(): IterableIterator<AlertInstance> {
    return this.byKey.values();
  }

  /** Loads the stored instances; one of a rule that no longer exists is deleted from the store. */
  restore(rulesByName: ReadonlyMap<string, AlertRule>): void {
    for (const record of this.store.loadAlerts()) {
      const rule = rulesByName.get(record.rule);
      if (!rule) {
        this.logger.info({ alert: record.key }, 'dropping stored alert of a rule that no longer exists');
        this.store.deleteAlert(record.key);
        continue;
      }
      this.byKey.set(record.key, { record, rule, lastCondition: undefined });
    }
    this.changes += 1;
  }

  /** Applies one observation at `now`: a true condition opens (pending) or refreshes the instance, a false one clears it. */
  apply(obs: Observation, now: number): void {
    const key = alertKey(obs.rule.name, obs.labels);
    let inst = this.byKey.get(key);
    if (obs.condition) {
      if (!inst || inst.record.state === 'resolved') {
        inst = {
          rule: obs.rule,
          lastCondition: true,
          record: { key, rule: obs.rule.name, labels: obs.labels, state: 'pending', activeSince: now, lastTrueAt: now, summary: obs.summary },
        };
        this.byKey.set(key, inst);
        this.changes += 1;
        this.logger.info({ alert: key }, 'alert pending');
      }
      const r = inst.record;
      inst.lastCondition = true;
      r.lastTrueAt = now;
      r.summary = obs.summary;
      r.severity = obs.rule.severity;
      setOptional(r, 'status', obs.status);
      setOptional(r, 'value', obs.value);
      setOptional(r, 'threshold', obs.threshold);
      setOptional(r, 'unit', obs.unit);
      setOptional(r, 'description', obs.description);
      setOptional(r, 'url', obs.url);
      this.promote(inst, now);
      this.save(inst);
      return;
    }
    if (!inst) return;
    inst.lastCondition = false;
    if (inst.record.state === 'pending') {
      this.logger.info({ alert: key }, 'alert no longer pending (condition cleared before `for`)');
      this.drop(key);
    } else if (inst.record.state === 'firing') {
      // keep the last firing details, but show the current value
      setOptional(inst.record, 'value', obs.value);
      this.expire(inst, now);
      this.save(inst);
    }
  }

  /** Timer-driven transitions at `now` without a new observation: pending → firing after `for`, firing → resolved after `keep_firing_for`. */
  advance(now: number): void {
    for (const inst of [...this.byKey.values()]) {
      if (this.promote(inst, now) || this.expire(inst, now)) this.save(inst);
    }
  }

  /** Forgets resolved instances older than `retentionMs` that no group lists any more. */
  forgetResolved(now: number, referenced: ReadonlySet<string>, retentionMs: number): void {
    for (const inst of [...this.byKey.values()]) {
      const r = inst.record;
      if (r.state === 'resolved' && !referenced.has(r.key) && now - (r.resolvedAt ?? now) >= retentionMs) this.drop(r.key);
    }
  }

  private promote(inst: AlertInstance, now: number): boolean {
    const r = inst.record;
    if (r.state === 'pending' && inst.lastCondition !== false && now - r.activeSince >= inst.rule.for) {
      r.state = 'firing';
      r.firedAt = now;
      this.changes += 1;
      this.logger.warn({ alert: r.key, severity: inst.rule.severity }, `alert firing (was pending since ${new Date(r.activeSince).toISOString()})`);
      return true;
    }
    return false;
  }

  private expire(inst: AlertInstance, now: number): boolean {
    const r = inst.record;
    if (r.state === 'firing' && inst.lastCondition === false && now - r.lastTrueAt >= inst.rule.keep_firing_for) {
      r.state = 'resolved';
      r.resolvedAt = now;
      this.changes += 1;
      this.logger.info({ alert: r.key }, 'alert resolved (was firing)');
      return true;
    }
    return false;
  }

  private save(inst: AlertInstance): void {
    try {
      this.store.saveAlert(inst.record);
    } catch (err) {
      this.onStoreError();
      this.logger.error({ alert: inst.record.key, err: (err as Error).message }, 'cannot persist alert state');
    }
  }

  private drop(key: string): void {
    if (this.byKey.delete(key)) this.changes += 1;
    try {
      this.store.deleteAlert(key);
    } catch (err) {
      this.onStoreError();
      this.logger.error({ alert: key, err: (err as Error).message }, 'cannot delete alert state');
    }
  }
}

function setOptional<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}
