/** alerts/evaluation.ts: the alert instance state machine (pending, firing, resolved; for, keep_firing_for) and its persistence. */
import { defineRule, type AlertRule } from '../../../alerts/config';
import { alertKey, AlertInstances } from '../../../alerts/evaluation';
import type { Observation } from '../../../alerts/observations';
import { MemoryAlertStore, recordingLogger } from './module-fakes';

const MIN = 60_000;
const rule = defineRule({ name: 'data_stale', for: '5m', keep_firing_for: '2m' });
const instant = defineRule({ name: 'instant' });
const labels = { alertname: 'data_stale', check: 'gold' };

function obs(condition: boolean, extra: Partial<Observation> = {}, r: AlertRule = rule): Observation {
  return { rule: r, labels, condition, status: condition ? 'crit' : 'ok', summary: condition ? 'stale' : 'fresh', value: condition ? 9000 : 60, ...extra };
}

function setup() {
  const store = new MemoryAlertStore();
  const logger = recordingLogger();
  let storeErrors = 0;
  const instances = new AlertInstances({ store, logger, onStoreError: () => (storeErrors += 1) });
  return { store, logger, instances, storeErrors: () => storeErrors };
}

const key = alertKey('data_stale', labels);

describe('AlertInstances', () => {
  it('alertKey is rule|labels in a stable order', () => {
    expect(alertKey('r', { b: '2', a: '1' })).toBe(alertKey('r', { a: '1', b: '2' }));
    expect(alertKey('r', { a: '1' }).startsWith('r|')).toBe(true);
  });

  it('a true condition opens a pending instance, saved with the observation details', () => {
    const { instances, store } = setup();
    instances.apply(obs(true, { threshold: 7200, unit: 'seconds', url: 'http://x', description: 'd' }), 1000);
    expect(instances.get(key)!.record).toEqual({
      key,
      rule: 'data_stale',
      labels,
      state: 'pending',
      activeSince: 1000,
      lastTrueAt: 1000,
      summary: 'stale',
      severity: 'critical',
      status: 'crit',
      value: 9000,
      threshold: 7200,
      unit: 'seconds',
      url: 'http://x',
      description: 'd',
    });
    expect(store.alerts.get(key)?.state).toBe('pending');
  });

  it('for: firing once the condition held that long (on the next observation or a timer advance)', () => {
    const { instances, store } = setup();
    instances.apply(obs(true), 0);
    instances.advance(5 * MIN - 1);
    expect(instances.get(key)!.record.state).toBe('pending');
    instances.advance(5 * MIN);
    expect(instances.get(key)!.record).toMatchObject({ state: 'firing', firedAt: 5 * MIN });
    expect(store.alerts.get(key)?.state).toBe('firing');
  });

  it('for: 0 fires on the observation itself', () => {
    const { instances } = setup();
    instances.apply(obs(true, { rule: instant }, instant), 7);
    expect(instances.get(alertKey('instant', labels))!.record).toMatchObject({ state: 'firing', firedAt: 7 });
  });

  it('a condition that clears before `for` drops the pending instance (from the store too)', () => {
    const { instances, store } = setup();
    instances.apply(obs(true), 0);
    instances.apply(obs(false), MIN);
    expect(instances.get(key)).toBeUndefined();
    expect(store.alerts.size).toBe(0);
    instances.advance(10 * MIN);
    expect(instances.size).toBe(0);
  });

  it('keep_firing_for: a firing alert whose condition clears stays firing that long after the last true observation, showing the current value', () => {
    const { instances } = setup();
    instances.apply(obs(true), 0);
    instances.advance(5 * MIN);
    instances.apply(obs(true), 5 * MIN);
    instances.apply(obs(false), 6 * MIN);
    expect(instances.get(key)!.record).toMatchObject({ state: 'firing', value: 60, summary: 'stale' });
    instances.advance(7 * MIN - 1);
    expect(instances.get(key)!.record.state).toBe('firing');
    instances.advance(7 * MIN);
    expect(instances.get(key)!.record).toMatchObject({ state: 'resolved', resolvedAt: 7 * MIN });
  });

  it('a firing alert whose condition has been false longer than keep_firing_for resolves on the observation itself', () => {
    const { instances } = setup();
    instances.apply(obs(true), 0);
    instances.advance(5 * MIN);
    instances.apply(obs(false), 6 * MIN);
    expect(instances.get(key)!.record).toMatchObject({ state: 'resolved', resolvedAt: 6 * MIN });
  });

  it('keep_firing_for counts from the last true observation', () => {
    const { instances } = setup();
    instances.apply(obs(true), 0);
    instances.advance(5 * MIN);
    instances.apply(obs(true), 10 * MIN);
    instances.apply(obs(false), 11 * MIN);
    instances.advance(12 * MIN - 1);
    expect(instances.get(key)!.record.state).toBe('firing');
    instances.advance(12 * MIN);
    expect(instances.get(key)!.record.state).toBe('resolved');
  });

  it('a true condition after resolution opens a new episode (pending again)', () => {
    const { instances } = setup();
    instances.apply(obs(true), 0);
    instances.advance(5 * MIN);
    instances.apply(obs(false), 6 * MIN);
    instances.advance(8 * MIN);
    instances.apply(obs(true), 9 * MIN);
    expect(instances.get(key)!.record).toMatchObject({ state: 'pending', activeSince: 9 * MIN });
    expect(instances.get(key)!.record.firedAt).toBeUndefined();
  });

  it('the version changes when an instance appears, changes state or disappears, not on a refresh', () => {
    const { instances } = setup();
    const v0 = instances.version;
    instances.apply(obs(true), 0);
    const v1 = instances.version;
    expect(v1).toBeGreaterThan(v0);
    instances.apply(obs(true), MIN);
    expect(instances.version).toBe(v1);
    instances.advance(5 * MIN);
    expect(instances.version).toBeGreaterThan(v1);
  });

  it('forgetResolved drops resolved instances past the retention that no group references', () => {
    const { instances } = setup();
    instances.apply(obs(true, { rule: instant }, instant), 0);
    instances.apply(obs(false, { rule: instant }, instant), MIN);
    const k = alertKey('instant', labels);
    expect(instances.get(k)!.record.state).toBe('resolved');
    instances.forgetResolved(2 * MIN, new Set(), 5 * MIN);
    expect(instances.get(k)).toBeDefined();
    instances.forgetResolved(6 * MIN, new Set([k]), 5 * MIN);
    expect(instances.get(k)).toBeDefined();
    instances.forgetResolved(6 * MIN, new Set(), 5 * MIN);
    expect(instances.get(k)).toBeUndefined();
  });

  it('restore loads stored instances of known rules (condition unknown) and deletes those of removed rules', () => {
    const { instances, store, logger } = setup();
    store.alerts.set(key, { key, rule: 'data_stale', labels, state: 'firing', activeSince: 0, lastTrueAt: 0, summary: 's' });
    store.alerts.set('gone|x', { key: 'gone|x', rule: 'gone', labels: {}, state: 'firing', activeSince: 0, lastTrueAt: 0, summary: 's' });
    instances.restore(new Map([['data_stale', rule]]));
    expect(instances.size).toBe(1);
    expect(instances.get(key)!.lastCondition).toBeUndefined();
    expect(store.alerts.has('gone|x')).toBe(false);
    expect(logger.lines.map((l) => l.msg)).toContain('dropping stored alert of a rule that no longer exists');
    // a restored firing alert with an unknown condition does not resolve by time alone
    instances.advance(60 * MIN);
    expect(instances.get(key)!.record.state).toBe('firing');
  });

  it('a store that refuses writes is reported and logged; the state in memory still moves', () => {
    const { instances, store, logger, storeErrors } = setup();
    store.failWrites = true;
    instances.apply(obs(true, { rule: instant }, instant), 0);
    expect(instances.get(alertKey('instant', labels))!.record.state).toBe('firing');
    expect(storeErrors()).toBe(1);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'cannot persist alert state' }));
  });
});
