/** alerts/grouping.ts: group_by, group_wait/interval, repeat, resend, resolved, muting and the dedup keys of each decision. */
import { alertsConfigSchema, defineRule, type AlertRule, type RouteConfig } from '../../../alerts/config';
import { alertKey, type AlertInstance } from '../../../alerts/evaluation';
import { AlertGroups, byCodePoint, groupLabelsOf, sinksOf, type GroupNotice } from '../../../alerts/grouping';
import type { AlertRecord } from '../../../src/protocol';
import { MemoryAlertStore, recordingLogger } from './module-fakes';

const MIN = 60_000;
const rule = defineRule({ name: 'data_stale' });

function route(input: Record<string, unknown> = {}): RouteConfig {
  return alertsConfigSchema.parse({
    sinks: { hook: { type: 'webhook', url: 'http://127.0.0.1:1/x' }, am: { type: 'alertmanager', url: 'http://127.0.0.1:1' } },
    route: { sinks: ['hook'], ...input },
  }).route;
}

function instance(check: string, state: AlertRecord['state'], firedAt = 0, r: AlertRule = rule): AlertInstance {
  const labels = { alertname: r.name, check, severity: r.severity };
  const record: AlertRecord = { key: alertKey(r.name, labels), rule: r.name, labels, state, activeSince: 0, lastTrueAt: 0, summary: `${check} stale`, firedAt };
  return { rule: r, record, lastCondition: state !== 'resolved' };
}

function setup(routeInput: Record<string, unknown> = {}, extra: { resendIntervals?: Record<string, number>; rules?: AlertRule[] } = {}) {
  const alerts = new Map<string, AlertInstance>();
  const muted = new Set<string>();
  const sent: GroupNotice[] = [];
  const store = new MemoryAlertStore();
  const logger = recordingLogger();
  let failSend = false;
  let groupErrors = 0;
  const groups = new AlertGroups({
    route: route(routeInput),
    rulesByName: new Map((extra.rules ?? [rule]).map((r) => [r.name, r])),
    ...(extra.resendIntervals ? { resendIntervals: extra.resendIntervals } : {}),
    store,
    logger,
    alerts,
    isMuted: (inst) => muted.has(inst.record.key),
    send: (notice) => {
      if (failSend) throw new Error('outbox refused');
      sent.push(notice);
    },
    onGroupError: () => (groupErrors += 1),
  });
  const add = (...list: AlertInstance[]) => list.forEach((i) => alerts.set(i.record.key, i));
  const keys = () => sent.map((n) => n.dedupKey);
  return { alerts, muted, sent, keys, store, logger, groups, add, failSends: (v: boolean) => (failSend = v), groupErrors: () => groupErrors };
}

const groupKey = (check: string) => alertKey('data_stale', { alertname: 'data_stale', check });

describe('groupLabelsOf and sinksOf', () => {
  it('keeps the group_by labels the alert has; ... keeps them all', () => {
    expect(groupLabelsOf({ alertname: 'a', check: 'c', target: 't' }, ['alertname', 'check', 'pipeline'])).toEqual({ alertname: 'a', check: 'c' });
    expect(groupLabelsOf({ alertname: 'a', target: 't' }, ['...'])).toEqual({ alertname: 'a', target: 't' });
  });

  it("a rule's own sinks win over the route's", () => {
    expect(sinksOf({ sinks: ['am'] }, { sinks: ['hook'] })).toEqual(['am']);
    expect(sinksOf({}, { sinks: ['hook'] })).toEqual(['hook']);
  });

  it('byCodePoint orders by code point', () => {
    expect(['b', 'B', 'a'].sort(byCodePoint)).toEqual(['B', 'a', 'b']);
  });
});

describe('AlertGroups', () => {
  it('a firing alert notifies its group once, with dedup key <group>|firing|<episode>|0, and the group is saved', () => {
    const { add, groups, sent, keys, store } = setup();
    add(instance('gold', 'firing', 1000));
    groups.evaluate(1000);
    groups.evaluate(2000);
    expect(keys()).toEqual([`${groupKey('gold')}|firing|1000|0`]);
    expect(sent[0]).toMatchObject({ kind: 'firing', sinks: ['hook'], resolved: [] });
    expect(sent[0]!.active.map((i) => i.record.labels.check)).toEqual(['gold']);
    expect(store.groups.get(groupKey('gold'))).toMatchObject({ episodeSince: 1000, sequence: 1, lastNotifiedAt: 1000, notifiedAlerts: [sent[0]!.active[0]!.record.key] });
    expect(groups.referencedAlerts()).toEqual(new Set([sent[0]!.active[0]!.record.key]));
  });

  it('pending alerts notify nothing', () => {
    const { add, groups, sent } = setup();
    add(instance('gold', 'pending'));
    groups.evaluate(0);
    expect(sent).toEqual([]);
    expect(groups.size).toBe(0);
  });

  it('group_wait delays the first notification from the first firing time', () => {
    const { add, groups, keys } = setup({ group_wait: '30s' });
    add(instance('gold', 'firing', 0));
    groups.evaluate(29_999);
    expect(keys()).toEqual([]);
    groups.evaluate(30_000);
    expect(keys()).toEqual([`${groupKey('gold')}|firing|0|0`]);
  });

  it('group_by: alerts sharing the group labels notify together, sorted by key', () => {
    const { add, groups, sent } = setup({ group_by: ['alertname'] });
    add(instance('silver', 'firing'), instance('gold', 'firing'));
    groups.evaluate(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.group.labels).toEqual({ alertname: 'data_stale' });
    expect(sent[0]!.active.map((i) => i.record.labels.check)).toEqual(['gold', 'silver']);
  });

  it('a change notifies again after group_interval with the next sequence, listing alerts resolved since', () => {
    const { add, groups, sent, keys } = setup({ group_by: ['alertname'], group_interval: '1m' });
    const gold = instance('gold', 'firing');
    add(gold, instance('silver', 'firing'));
    groups.evaluate(0);
    gold.record.state = 'resolved';
    groups.evaluate(30_000);
    expect(sent).toHaveLength(1);
    groups.evaluate(MIN);
    const g = alertKey('data_stale', { alertname: 'data_stale' });
    expect(keys()).toEqual([`${g}|firing|0|0`, `${g}|firing|0|1`]);
    expect(sent[1]!.active.map((i) => i.record.labels.check)).toEqual(['silver']);
    expect(sent[1]!.resolved.map((i) => i.record.labels.check)).toEqual(['gold']);
  });

  it('repeat_interval re-sends an unchanged group (the rule may override it)', () => {
    const { add, groups, keys } = setup({ repeat_interval: '1h' });
    add(instance('gold', 'firing'));
    groups.evaluate(0);
    groups.evaluate(59 * MIN);
    groups.evaluate(60 * MIN);
    expect(keys()).toEqual([`${groupKey('gold')}|firing|0|0`, `${groupKey('gold')}|firing|0|1`]);

    const fast = defineRule({ name: 'data_stale', repeat_interval: '10m' });
    const other = setup({ repeat_interval: '1h' }, { rules: [fast] });
    other.add(instance('gold', 'firing', 0, fast));
    other.groups.evaluate(0);
    other.groups.evaluate(10 * MIN);
    expect(other.keys()).toHaveLength(2);
  });

  it('when the last alert resolves: one resolved notification <group>|resolved|<episode>, then the group is gone', () => {
    const { add, groups, sent, keys, store } = setup();
    const gold = instance('gold', 'firing', 5);
    add(gold);
    groups.evaluate(5);
    gold.record.state = 'resolved';
    groups.evaluate(10);
    groups.evaluate(20);
    expect(keys()).toEqual([`${groupKey('gold')}|firing|5|0`, `${groupKey('gold')}|resolved|5`]);
    expect(sent[1]).toMatchObject({ kind: 'resolved', active: [] });
    expect(sent[1]!.resolved.map((i) => i.record.key)).toEqual([gold.record.key]);
    expect(groups.size).toBe(0);
    expect(store.groups.size).toBe(0);
  });

  it('send_resolved: false drops the group silently', () => {
    const { add, groups, keys } = setup({ send_resolved: false });
    const gold = instance('gold', 'firing');
    add(gold);
    groups.evaluate(0);
    gold.record.state = 'resolved';
    groups.evaluate(1);
    expect(keys()).toEqual([`${groupKey('gold')}|firing|0|0`]);
    expect(groups.size).toBe(0);
  });

  it('a muted (silenced or inhibited) alert does not notify; muted while firing, the group stays quiet and resolves later', () => {
    const { add, groups, muted, keys } = setup();
    const gold = instance('gold', 'firing');
    add(gold);
    muted.add(gold.record.key);
    groups.evaluate(0);
    expect(keys()).toEqual([]);
    muted.clear();
    groups.evaluate(1);
    muted.add(gold.record.key);
    groups.evaluate(2);
    expect(groups.size).toBe(1); // still firing underneath: no resolved notification
    gold.record.state = 'resolved';
    groups.evaluate(3);
    // the episode starts when the alert fired (0), not when it was first unmuted
    expect(keys()).toEqual([`${groupKey('gold')}|firing|0|0`, `${groupKey('gold')}|resolved|0`]);
  });

  it('resend intervals: a sink with its own cadence gets <group>|firing|<episode>|resend|<k> once per interval', () => {
    const { add, groups, sent } = setup({ sinks: ['hook', 'am'] }, { resendIntervals: { am: MIN } });
    add(instance('gold', 'firing'));
    groups.evaluate(0);
    groups.evaluate(30_000);
    groups.evaluate(MIN);
    groups.evaluate(MIN + 1);
    groups.evaluate(2 * MIN);
    expect(sent.map((n) => [n.dedupKey.slice(groupKey('gold').length), n.sinks])).toEqual([
      ['|firing|0|0', ['hook', 'am']],
      ['|firing|0|resend|1', ['am']],
      ['|firing|0|resend|2', ['am']],
    ]);
  });

  it('a send that throws leaves the group unchanged (decided again next time) and is reported', () => {
    const { add, groups, keys, failSends, groupErrors, logger } = setup();
    add(instance('gold', 'firing'));
    failSends(true);
    groups.evaluate(0);
    expect(groupErrors()).toBe(1);
    expect(groups.size).toBe(0);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'cannot evaluate alert group; retried at the next evaluation' }));
    failSends(false);
    groups.evaluate(1);
    expect(keys()).toEqual([`${groupKey('gold')}|firing|0|0`]);
  });

  it('restore continues a stored episode (next sequence) and drops groups of removed rules', () => {
    const first = setup({ repeat_interval: '1h' });
    const gold = instance('gold', 'firing');
    first.add(gold);
    first.groups.evaluate(0);
    const store = first.store;
    store.groups.set('gone|{}', { key: 'gone|{}', rule: 'gone', labels: {}, episodeSince: 0, sequence: 1, lastNotifiedAt: 0, notifiedAlerts: [] });

    const sent: GroupNotice[] = [];
    const again = new AlertGroups({
      route: route({ repeat_interval: '1h' }),
      rulesByName: new Map([[rule.name, rule]]),
      store,
      logger: recordingLogger(),
      alerts: new Map([[gold.record.key, gold]]),
      isMuted: () => false,
      send: (n) => sent.push(n),
    });
    again.restore();
    expect(again.size).toBe(1);
    expect(store.groups.has('gone|{}')).toBe(false);
    again.evaluate(30 * MIN);
    expect(sent).toEqual([]);
    again.evaluate(60 * MIN);
    expect(sent.map((n) => n.dedupKey)).toEqual([`${groupKey('gold')}|firing|0|1`]);
  });
});
