/** alerts/notification-builder.ts: dedup keys, notification items, and the Notification of a firing or resolved group. */
import { alertItem, buildGroupNotification, firingDedupKey, resendDedupKey, resolvedDedupKey } from '../../../alerts/notification-builder';
import type { AlertRecord } from '../../../src/protocol';

const rule = { name: 'data_stale', severity: 'critical' as const };
const group = { labels: { alertname: 'data_stale', check: 'gold' }, episodeSince: 1000 };

function record(check: string, extra: Partial<AlertRecord> = {}): AlertRecord {
  return {
    key: `data_stale|${check}`,
    rule: 'data_stale',
    labels: { alertname: 'data_stale', check },
    state: 'firing',
    activeSince: 0,
    lastTrueAt: 0,
    summary: `${check} is stale`,
    status: 'crit',
    firedAt: 1000,
    url: 'http://sup/api/v1/health',
    ...extra,
  };
}

describe('dedup keys', () => {
  it('are deterministic from the group key, episode start and sequence', () => {
    expect(firingDedupKey('g', 1000, 0)).toBe('g|firing|1000|0');
    expect(resendDedupKey('g', 1000, 3)).toBe('g|firing|1000|resend|3');
    expect(resolvedDedupKey('g', 1000)).toBe('g|resolved|1000');
  });
});

describe('alertItem', () => {
  it('names the alert by check, else pipeline, else rule; status is the observed one, resolved once resolved', () => {
    expect(alertItem(record('gold', { value: 9000, threshold: 7200, unit: 'seconds' }))).toEqual({
      name: 'gold',
      status: 'crit',
      summary: 'gold is stale',
      labels: { alertname: 'data_stale', check: 'gold' },
      value: 9000,
      threshold: 7200,
      unit: 'seconds',
      since: 1000,
    });
    expect(alertItem({ ...record('x'), labels: { pipeline: 'ingest' }, state: 'resolved', resolvedAt: 5 })).toMatchObject({ name: 'ingest', status: 'resolved', endsAt: 5 });
    const noStatus = record('x', { labels: {} });
    delete noStatus.status;
    expect(alertItem(noStatus)).toMatchObject({ name: 'data_stale', status: 'firing' });
  });
});

describe('buildGroupNotification', () => {
  it('one firing alert: its summary and description, its link, the group labels, starts at the episode', () => {
    const n = buildGroupNotification({
      kind: 'firing',
      rule,
      group,
      dedupKey: 'k',
      active: [record('gold', { description: 'why' })],
      resolved: [],
      now: 2000,
      fallbackUrl: 'http://fallback',
    });
    expect(n).toMatchObject({
      dedupKey: 'k',
      kind: 'firing',
      rule: 'data_stale',
      severity: 'critical',
      labels: group.labels,
      annotations: { summary: 'gold is stale', description: 'why' },
      startsAt: 1000,
      url: 'http://sup/api/v1/health',
    });
    expect(n.endsAt).toBeUndefined();
    expect(n.items.map((i) => i.name)).toEqual(['gold']);
    expect(n.title).toContain('data_stale');
  });

  it('several alerts: counted in the summary (with the resolved ones), no description, the fallback link when the links differ', () => {
    const n = buildGroupNotification({
      kind: 'firing',
      rule,
      group,
      dedupKey: 'k',
      active: [record('gold', { description: 'why', url: 'http://a' }), record('silver', { url: 'http://b' })],
      resolved: [record('bronze', { state: 'resolved', resolvedAt: 1500 })],
      now: 2000,
      fallbackUrl: 'http://fallback',
    });
    expect(n.annotations).toEqual({ summary: '2 data_stale alert(s) firing, 1 resolved: gold is stale' });
    expect(n.url).toBe('http://fallback');
    expect(n.items.map((i) => [i.name, i.status])).toEqual([
      ['gold', 'crit'],
      ['silver', 'crit'],
      ['bronze', 'resolved'],
    ]);
  });

  it('resolved: ends at the latest resolution (not before now), counts the resolved alerts', () => {
    const resolved = [record('gold', { state: 'resolved', resolvedAt: 5000 }), record('silver', { state: 'resolved', resolvedAt: 3000 })];
    const n = buildGroupNotification({ kind: 'resolved', rule, group, dedupKey: 'k', active: [], resolved, now: 4000 });
    expect(n).toMatchObject({ kind: 'resolved', endsAt: 5000, annotations: { summary: 'gold is stale' } });
    expect(buildGroupNotification({ kind: 'resolved', rule, group, dedupKey: 'k', active: [], resolved, now: 9000 }).endsAt).toBe(9000);
  });

  it('no alerts and no fallback: the rule name as summary, no link', () => {
    const n = buildGroupNotification({ kind: 'resolved', rule, group, dedupKey: 'k', active: [], resolved: [], now: 1 });
    expect(n.annotations.summary).toBe('data_stale');
    expect(n.url).toBeUndefined();
  });
});
