import { Subject } from 'rxjs';
import { Registry } from 'prom-client';
import type Database from 'better-sqlite3';
import { alertsConfigSchema, resolveAlertRules, type AlertsConfigInput } from '../../../alerts/config';
import { createAlertEngine, type AlertEngine } from '../../../alerts/alert-engine';
import { createInfoNotification } from '../../../alerts/notifications';
import { registerAlertMetrics } from '../../../src/metrics/alerts';
import type { OutboxStore, RunEvent, Signal, Status } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { createSqliteAlertStateStore } from '../../../src/store/alert-state';
import { createSqliteOutboxStore } from '../../../src/store/outbox';
import { createSqliteSilenceStore } from '../../../src/store/silences';
import { openAlertDb, tempDbPath } from '../../helpers/alert-db';
import { FakeClock, freshnessSignal } from './fakes';

const MIN = 60_000;

let tmp: ReturnType<typeof tempDbPath>;
let db: Database.Database;
let outbox: OutboxStore;
let clock: FakeClock;
let signals: Subject<Signal>;
let runs: Subject<RunEvent>;
let engines: AlertEngine[] = [];

beforeEach(() => {
  tmp = tempDbPath('engine-');
  db = openAlertDb(tmp.file);
  outbox = createSqliteOutboxStore(db);
  clock = new FakeClock();
  signals = new Subject();
  runs = new Subject();
});

afterEach(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  engines = [];
  db.close();
  tmp.cleanup();
});

function engine(cfg: AlertsConfigInput, extra: Partial<Parameters<typeof createAlertEngine>[0]> = {}): AlertEngine {
  const config = alertsConfigSchema.parse({ sinks: { hook: { type: 'webhook', url: 'http://127.0.0.1:1/x' } }, route: { sinks: ['hook'] }, default_rules: false, ...cfg });
  const { rules, inhibit } = resolveAlertRules(config);
  const e = createAlertEngine({
    rules,
    inhibit,
    route: config.route,
    signals$: signals,
    runEvents$: runs,
    alertStore: createSqliteAlertStateStore(db),
    silenceStore: createSqliteSilenceStore(db),
    outbox,
    clock,
    logger: silentLogger,
    publicUrl: 'http://supervisor.test:8090/',
    evaluationIntervalMs: 1000,
    ...extra,
  });
  engines.push(e);
  void e.start();
  return e;
}

const signal = (check: string, status: Status, extra: Partial<Signal> = {}): Signal => freshnessSignal(clock, check, status, extra);

function sent(): Array<{ key: string; kind: string; sink: string; items: number }> {
  return outbox.list({ limit: 1000 }).map((e) => ({ key: e.dedupKey, kind: e.notification.kind, sink: e.sink, items: e.notification.items.length }));
}

const staleRule = {
  name: 'data_stale',
  match: { kind: 'delta_freshness' as const },
  status: 'crit' as const,
  summary: 'Data stale: {{ check }} last changed {{ value_human }} ago (threshold {{ threshold_human }})',
};

describe('alert engine', () => {
  it('for: 0 notifies on the signal itself, with the what, since and value vs threshold', () => {
    engine({ rules: [staleRule] });
    const t0 = clock.now();
    signals.next(signal('gold_freshness', 'crit'));
    const entries = outbox.list({});
    expect(entries).toHaveLength(1);
    const n = entries[0]!.notification;
    expect(n).toMatchObject({
      kind: 'firing',
      rule: 'data_stale',
      severity: 'critical',
      startsAt: t0,
      labels: { alertname: 'data_stale', check: 'gold_freshness' },
      annotations: { summary: 'Data stale: gold_freshness last changed 2h30m ago (threshold 2h)' },
      url: 'http://supervisor.test:8090/api/v1/health',
    });
    expect(n.dedupKey).toBe(`data_stale|alertname="data_stale",check="gold_freshness"|firing|${t0}|0`);
    expect(n.items[0]).toMatchObject({ name: 'gold_freshness', status: 'crit', value: 9000, threshold: 7200, unit: 'seconds', since: t0 });
    expect(n.text).toContain('2h30m vs threshold 2h');
    expect(n.title).toBe('[FIRING:1] data_stale (check=gold_freshness)');
  });

  it('for: stays pending until the duration has passed, and a clear before that notifies nothing', async () => {
    const e = engine({ rules: [{ ...staleRule, for: '5m' }] });
    signals.next(signal('gold_freshness', 'crit'));
    expect(e.snapshot()[0]).toMatchObject({ state: 'pending' });
    await clock.advance(2 * MIN);
    signals.next(signal('gold_freshness', 'ok'));
    expect(e.snapshot()).toEqual([]);
    signals.next(signal('gold_freshness', 'crit'));
    await clock.advance(4 * MIN);
    expect(sent()).toHaveLength(0);
    await clock.advance(1 * MIN); // the timer promotes it without a new signal
    expect(e.snapshot()[0]).toMatchObject({ state: 'firing' });
    expect(sent()).toHaveLength(1);
  });

  it('resolves the check-wide alert of a timed-out probe run once the check reports its real targets', () => {
    const e = engine({ rules: [{ ...staleRule, status: 'unknown' as const }] });
    signals.next(signal('gold_freshness', 'unknown', { target: '*', labels: {}, summary: 'probe timed out after 20s' }));
    expect(e.snapshot()).toEqual([expect.objectContaining({ state: 'firing', labels: expect.objectContaining({ target: '*' }) })]);
    signals.next(signal('gold_freshness', 'ok'));
    expect(e.snapshot().filter((a) => a.state !== 'resolved')).toEqual([]);
    expect(sent().map((x) => x.kind)).toEqual(['firing', 'resolved']);
    // another check's real target does not clear it
    signals.next(signal('silver_freshness', 'unknown', { target: '*', labels: {} }));
    signals.next(signal('gold_freshness', 'ok'));
    expect(
      e
        .snapshot()
        .filter((a) => a.state === 'firing')
        .map((a) => a.labels.check),
    ).toEqual(['silver_freshness']);
  });

  it('sends resolved once, and keep_firing_for holds it through a short clear', async () => {
    const e = engine({ rules: [{ ...staleRule, keep_firing_for: '2m' }] });
    signals.next(signal('gold_freshness', 'crit'));
    const t0 = clock.now();
    await clock.advance(MIN);
    signals.next(signal('gold_freshness', 'ok'));
    await clock.advance(30_000);
    signals.next(signal('gold_freshness', 'crit')); // flaps back: still the same alert, no new page
    signals.next(signal('gold_freshness', 'ok'));
    const tOk = clock.now();
    await clock.advance(MIN);
    expect(e.snapshot()[0]).toMatchObject({ state: 'firing' });
    await clock.advance(MIN);
    expect(e.snapshot()[0]).toMatchObject({ state: 'resolved', resolvedAt: tOk + 2 * MIN });
    signals.next(signal('gold_freshness', 'ok'));
    await clock.advance(10 * MIN);
    expect(sent().map((s) => s.kind)).toEqual(['firing', 'resolved']);
    const resolved = outbox.list({}).find((x) => x.notification.kind === 'resolved')!.notification;
    expect(resolved.dedupKey).toBe(`data_stale|alertname="data_stale",check="gold_freshness"|resolved|${t0}`);
    expect(resolved.endsAt).toBe(tOk + 2 * MIN);
    expect(resolved.items[0]).toMatchObject({ status: 'resolved', endsAt: tOk + 2 * MIN });
  });

  it('send_resolved: false sends no resolved notification', async () => {
    engine({ rules: [staleRule], route: { sinks: ['hook'], send_resolved: false } });
    signals.next(signal('gold_freshness', 'crit'));
    await clock.advance(MIN);
    signals.next(signal('gold_freshness', 'ok'));
    await clock.advance(MIN);
    expect(sent().map((s) => s.kind)).toEqual(['firing']);
  });

  it('repeats a firing notification every repeat_interval, not more', async () => {
    engine({ rules: [staleRule], route: { sinks: ['hook'], repeat_interval: '1h' } });
    signals.next(signal('gold_freshness', 'crit'));
    for (let i = 0; i < 150; i++) {
      await clock.advance(MIN);
      signals.next(signal('gold_freshness', 'crit'));
    }
    expect(sent().map((s) => s.key.split('|').pop())).toEqual(['0', '1', '2']);
  });

  it('groups alerts by group_by and notifies a change after group_interval', async () => {
    engine({ rules: [staleRule], route: { sinks: ['hook'], group_by: ['alertname'], group_wait: '10s', group_interval: '1m' } });
    signals.next(signal('gold_freshness', 'crit'));
    await clock.advance(5000);
    signals.next(signal('silver_freshness', 'crit'));
    expect(sent()).toHaveLength(0);
    await clock.advance(5000); // group_wait since the first alert
    expect(sent()).toEqual([expect.objectContaining({ kind: 'firing', items: 2 })]);
    signals.next(signal('bronze_freshness', 'crit'));
    await clock.advance(30_000);
    expect(sent()).toHaveLength(1);
    await clock.advance(30_000);
    expect(sent()).toHaveLength(2);
    expect(outbox.list({})[1]!.notification.title).toBe('[FIRING:3] data_stale');
    // all resolve → one resolved notification for the group
    for (const c of ['gold_freshness', 'silver_freshness', 'bronze_freshness']) signals.next(signal(c, 'ok'));
    expect(sent().map((s) => s.kind)).toEqual(['firing', 'firing', 'resolved']);
    expect(sent()[2]!.items).toBe(3);
  });

  it('Kafka down inhibits freshness alerts (default rules), which notify once Kafka is back if still stale', async () => {
    const config = { default_rules: true, rules: [{ name: 'kafka_cluster_down', match: { kind: 'kafka_cluster' as const }, status: 'unknown' as const }] };
    const e = engine(config);
    signals.next(signal('kafka', 'crit', { kind: 'kafka_cluster', target: '127.0.0.1:9092', labels: {} }));
    signals.next(signal('gold_freshness', 'crit'));
    expect(sent().map((s) => s.key.split('|')[0])).toEqual(['kafka_cluster_down']);
    expect(e.snapshot().find((a) => a.rule === 'data_stale')).toMatchObject({ state: 'firing', inhibited: true });
    await clock.advance(MIN);
    signals.next(signal('kafka', 'ok', { kind: 'kafka_cluster', target: '127.0.0.1:9092', labels: {} }));
    expect(sent().map((s) => `${s.key.split('|')[0]}:${s.kind}`)).toEqual(['kafka_cluster_down:firing', 'kafka_cluster_down:resolved', 'data_stale:firing']);
  });

  it('silences mute matching alerts until they expire', async () => {
    const silences = createSqliteSilenceStore(db);
    const e = engine({ rules: [staleRule] });
    silences.addSilence({ id: 's1', matchers: { check: '~gold_.*' }, startsAt: clock.now(), endsAt: clock.now() + 10 * MIN, createdBy: 'test', comment: 'maintenance' });
    signals.next(signal('gold_freshness', 'crit'));
    signals.next(signal('silver_freshness', 'crit'));
    expect(sent().map((s) => s.key.split('|')[1])).toEqual(['alertname="data_stale",check="silver_freshness"']);
    expect(e.snapshot().find((a) => a.labels.check === 'gold_freshness')!.silencedBy).toEqual(['s1']);
    await clock.advance(10 * MIN);
    expect(sent()).toHaveLength(2);
    expect(() => silences.addSilence({ id: 'bad', matchers: {}, startsAt: 2, endsAt: 1, createdBy: 'x', comment: '' })).toThrow(/invalid silence/);
  });

  it('a firing alert silenced before it resolves sends its resolved notification only after it resolves', async () => {
    const silences = createSqliteSilenceStore(db);
    engine({ rules: [staleRule] });
    signals.next(signal('gold_freshness', 'crit'));
    silences.addSilence({ id: 's1', matchers: { alertname: 'data_stale' }, startsAt: clock.now(), endsAt: clock.now() + 60 * MIN, createdBy: 't', comment: '' });
    await clock.advance(5 * MIN);
    expect(sent().map((s) => s.kind)).toEqual(['firing']);
    signals.next(signal('gold_freshness', 'ok'));
    expect(sent().map((s) => s.kind)).toEqual(['firing', 'resolved']);
  });

  it('continues across a restart: no re-page for a restored firing alert until repeat_interval, then resolves once', async () => {
    const cfg = { rules: [staleRule], route: { sinks: ['hook'], repeat_interval: '1h' } };
    const e1 = engine(cfg);
    signals.next(signal('gold_freshness', 'crit'));
    await clock.advance(10 * MIN);
    await e1.stop();
    db.close();
    db = openAlertDb(tmp.file);
    outbox = createSqliteOutboxStore(db);
    signals = new Subject();
    const e2 = engine(cfg);
    expect(e2.snapshot()[0]).toMatchObject({ state: 'firing' });
    signals.next(signal('gold_freshness', 'crit'));
    await clock.advance(40 * MIN);
    signals.next(signal('gold_freshness', 'crit'));
    expect(sent()).toHaveLength(1);
    await clock.advance(10 * MIN); // 60 min after the first notification
    expect(sent().map((s) => s.key.split('|').slice(-1)[0])).toEqual(['0', '1']);
    signals.next(signal('gold_freshness', 'ok'));
    signals.next(signal('gold_freshness', 'ok'));
    expect(sent().map((s) => s.kind)).toEqual(['firing', 'firing', 'resolved']);
  });

  it('pipeline run failures fire per pipeline and resolve on the next success (default rule)', () => {
    const e = engine({ default_rules: true });
    const run = (runId: string, state: 'failed' | 'success' | 'running', pipeline = 'domain_ingestion'): RunEvent => ({
      type: 'run',
      runId,
      pipeline,
      logicalDate: Date.UTC(2024, 10, 28, 12),
      trigger: 'cron',
      state,
      at: clock.now(),
      reason: state === 'failed' ? 'task run_full_ingestion failed: exit 1' : undefined,
    });
    runs.next(run('r1', 'running'));
    runs.next(run('r1', 'failed'));
    runs.next(run('m1', 'success', 'monitoring'));
    const alerts = e.snapshot();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ rule: 'pipeline_run_failed', state: 'firing', labels: { pipeline: 'domain_ingestion' }, url: 'http://supervisor.test:8090/api/v1/runs/r1' });
    const n = outbox.list({})[0]!.notification;
    expect(n.annotations.description).toBe('Run r1 of domain_ingestion ended failed: task run_full_ingestion failed: exit 1');
    expect(n.url).toBe('http://supervisor.test:8090/api/v1/runs/r1');
    runs.next(run('r2', 'success'));
    expect(sent().map((s) => s.kind)).toEqual(['firing', 'resolved']);
  });

  it('survives bad events and exposes supervisor_alerts_firing', async () => {
    const registry = new Registry();
    const e = engine({ rules: [staleRule] });
    registerAlertMetrics({ registry, alerts: e });
    signals.next({ ...signal('x', 'crit'), status: 'bogus' } as unknown as Signal);
    signals.next(null as unknown as Signal);
    runs.next({ type: 'run' } as unknown as RunEvent);
    signals.next(signal('gold_freshness', 'crit'));
    expect(e.snapshot()).toHaveLength(1);
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'supervisor_alerts_firing')!;
    expect(metric.values).toEqual([{ labels: { rule: 'data_stale', severity: 'critical' }, value: 1 }]);
  });

  it('re-sends firing alerts to Alertmanager sinks on their own interval', async () => {
    engine(
      {
        sinks: { hook: { type: 'webhook', url: 'http://127.0.0.1:1/x' }, am: { type: 'alertmanager', url: 'http://127.0.0.1:9093' } },
        rules: [staleRule],
        route: { sinks: ['hook', 'am'] },
      },
      { resendIntervals: { am: MIN } },
    );
    signals.next(signal('gold_freshness', 'crit'));
    await clock.advance(3 * MIN + 1000);
    const bySink = (sink: string): string[] =>
      sent()
        .filter((s) => s.sink === sink)
        .map((s) => s.key.split('|').slice(4).join('|'));
    expect(bySink('hook')).toEqual(['0']);
    expect(bySink('am')).toEqual(['0', 'resend|1', 'resend|2', 'resend|3']);
  });

  it('alerts$ emits the current alerts; stop() is idempotent and completes it', async () => {
    const e = engine({ rules: [staleRule] });
    const seen: number[] = [];
    let completed = false;
    e.alerts$.subscribe({ next: (a) => seen.push(a.length), complete: () => (completed = true) });
    signals.next(signal('gold_freshness', 'crit'));
    await Promise.all([e.stop(), e.stop()]);
    expect(seen).toEqual([0, 1]);
    expect(completed).toBe(true);
    expect(clock.pendingSleeps()).toBe(0);
  });
});

describe('createInfoNotification', () => {
  it('builds a deterministic info notification for a successful run', () => {
    const n = createInfoNotification({ pipeline: 'domain_ingestion', runId: 'r42', at: Date.UTC(2024, 0, 1), publicUrl: 'http://sup:8090', durationMs: 12_000 });
    expect(n).toMatchObject({
      kind: 'info',
      severity: 'info',
      rule: 'send_success_notification',
      dedupKey: 'send_success_notification|domain_ingestion|r42',
      url: 'http://sup:8090/api/v1/runs/r42',
      title: '[INFO] send_success_notification (pipeline=domain_ingestion)',
      annotations: { summary: 'Pipeline domain_ingestion succeeded' },
    });
    expect(n.text).toContain('At: 2024-01-01T00:00:00Z');
  });
});
