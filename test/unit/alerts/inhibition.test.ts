/** alerts/inhibition.ts: which alerts a firing source inhibits, the `equal` labels, and the index rebuilt per version. */
import type { InhibitRule } from '../../../alerts/config';
import { equalKey, InhibitionIndex, type InhibitionCandidate } from '../../../alerts/inhibition';

interface Alert extends InhibitionCandidate {
  record: { labels: Record<string, string>; state: string };
}

const alert = (labels: Record<string, string>, state = 'firing'): Alert => ({ record: { labels, state } });

/** A mutable set of alerts with a version the test bumps, like AlertInstances. */
class Alerts {
  version = 0;
  list: Alert[] = [];
  scans = 0;
  values(): Alert[] {
    this.scans += 1;
    return this.list;
  }
  set(list: Alert[]): void {
    this.list = list;
    this.version += 1;
  }
}

const kafkaDownInhibitsStale: InhibitRule = { source_match: { alertname: 'kafka_down' }, target_match: { alertname: '~data_stale|lag_high' }, equal: [] };
const perCluster: InhibitRule = { source_match: { alertname: 'kafka_down' }, target_match: { alertname: 'lag_high' }, equal: ['cluster'] };

describe('InhibitionIndex', () => {
  it('a firing source inhibits the targets of its rule, not other alerts', () => {
    const alerts = new Alerts();
    const index = new InhibitionIndex([kafkaDownInhibitsStale], alerts);
    const stale = alert({ alertname: 'data_stale' });
    const spark = alert({ alertname: 'spark_down' });
    alerts.set([alert({ alertname: 'kafka_down' }), stale, spark]);
    expect(index.isInhibited(stale)).toBe(true);
    expect(index.isInhibited(spark)).toBe(false);
  });

  it('a source that is only pending or resolved inhibits nothing', () => {
    const alerts = new Alerts();
    const index = new InhibitionIndex([kafkaDownInhibitsStale], alerts);
    const stale = alert({ alertname: 'data_stale' });
    alerts.set([alert({ alertname: 'kafka_down' }, 'pending'), alert({ alertname: 'kafka_down' }, 'resolved'), stale]);
    expect(index.isInhibited(stale)).toBe(false);
  });

  it('equal labels: only a source with the same values inhibits (a missing label equals a missing label)', () => {
    const alerts = new Alerts();
    const index = new InhibitionIndex([perCluster], alerts);
    const lagA = alert({ alertname: 'lag_high', cluster: 'a' });
    const lagB = alert({ alertname: 'lag_high', cluster: 'b' });
    const lagNone = alert({ alertname: 'lag_high' });
    alerts.set([alert({ alertname: 'kafka_down', cluster: 'a' }), lagA, lagB, lagNone]);
    expect([index.isInhibited(lagA), index.isInhibited(lagB), index.isInhibited(lagNone)]).toEqual([true, false, false]);
    alerts.set([...alerts.list, alert({ alertname: 'kafka_down' })]);
    expect(index.isInhibited(lagNone)).toBe(true);
  });

  it('an alert matching both sides does not inhibit itself, but another such alert does', () => {
    const both: InhibitRule = { source_match: { severity: 'critical' }, target_match: { severity: 'critical' }, equal: [] };
    const alerts = new Alerts();
    const index = new InhibitionIndex([both], alerts);
    const one = alert({ severity: 'critical', n: '1' });
    alerts.set([one]);
    expect(index.isInhibited(one)).toBe(false);
    alerts.set([one, alert({ severity: 'critical', n: '2' })]);
    expect(index.isInhibited(one)).toBe(true);
  });

  it('the source index is built once per version of the alerts', () => {
    const alerts = new Alerts();
    const index = new InhibitionIndex([kafkaDownInhibitsStale], alerts);
    const stale = alert({ alertname: 'data_stale' });
    alerts.set([stale]);
    for (let i = 0; i < 5; i++) index.isInhibited(stale);
    expect(alerts.scans).toBe(1);
    alerts.set([alert({ alertname: 'kafka_down' }), stale]);
    expect(index.isInhibited(stale)).toBe(true);
    expect(alerts.scans).toBe(2);
  });

  it('without rules nothing is inhibited and the alerts are never scanned', () => {
    const alerts = new Alerts();
    const index = new InhibitionIndex([], alerts);
    alerts.set([alert({ alertname: 'kafka_down' }), alert({ alertname: 'data_stale' })]);
    expect(index.isInhibited(alerts.list[1]!)).toBe(false);
    expect(alerts.scans).toBe(0);
  });

  it('an invalid matcher names the rule and side', () => {
    expect(() => new InhibitionIndex([kafkaDownInhibitsStale, { source_match: { a: 'x' }, target_match: { b: '~(' }, equal: [] }], new Alerts())).toThrow(
      /alerts\.inhibit\[1\]\.target_match/,
    );
  });

  it('equalKey joins the equal labels in order, missing as empty', () => {
    expect(equalKey({ equal: ['a', 'b'] }, { b: '2', a: '1' })).toBe('["1","2"]');
    expect(equalKey({ equal: ['a'] }, {})).toBe('[""]');
    expect(equalKey({ equal: [] }, { a: '1' })).toBe('[]');
  });
});
