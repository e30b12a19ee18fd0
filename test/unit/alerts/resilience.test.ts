/**
 * Item 19: the alert engine and the outbox worker survive transient errors (a failing input
 * stream, a store that throws once) and say so in metrics; silences are kept in memory, not
 * re-read from SQLite on every signal; inhibition is a lookup per alert.
 */
import { concat, defer, of, Subject, throwError, type Observable } from 'rxjs';
import { Registry } from 'prom-client';
import type Database from 'better-sqlite3';
import { alertsConfigSchema, resolveAlertRules, type AlertsConfigInput } from '../../../alerts/config';
import { createAlertEngine, type AlertEngine } from '../../../alerts/alert-engine';
import { createOutboxWorker, type OutboxWorker } from '../../../alerts/outbox-worker';
import { registerAlertMetrics } from '../../../src/metrics/alerts';
import { registerOutboxMetrics } from '../../../src/metrics/outbox';
import type { AlertStateStore, OutboxStore, Signal, SilenceStore, Status } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { createSqliteAlertStateStore } from '../../../src/store/alert-state';
import { createSqliteOutboxStore } from '../../../src/store/outbox';
import { createSqliteSilenceStore } from '../../../src/store/silences';
import { openAlertDb, tempDbPath } from '../../helpers/alert-db';
import { FakeClock, ScriptedSink, freshnessSignal, note } from './fakes';

const MIN = 60_000;

/** Wraps `target` so the named methods throw `times[method]` times, then work; counts every call. */
function flaky<T extends object>(
  target: T,
  times: Partial<Record<keyof T, number>> = {},
): { store: T; calls: Record<string, number>; failNext(method: keyof T, n?: number): void } {
  const remaining: Record<string, number> = { ...(times as Record<string, number>) };
  const calls: Record<string, number> = {};
  const store = new Proxy(target, {
    get(t, prop, receiver) {
      const value: unknown = Reflect.get(t, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const name = String(prop);
        calls[name] = (calls[name] ?? 0) + 1;
        if ((remaining[name] ?? 0) > 0) {
          remaining[name]! -= 1;
          throw new Error(`SQLITE_BUSY: database is locked (${name})`);
        }
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
  return { store, calls, failNext: (method, n = 1) => (remaining[String(method)] = n) };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((a, v) => a + v.value, 0);
}

let tmp: ReturnType<typeof tempDbPath>;
let db: Database.Database;
let clock: FakeClock;
let registry: Registry;
const closers: Array<() => Promise<void>> = [];

beforeEach(() => {
  tmp = tempDbPath('resilience-');
  db = openAlertDb(tmp.file);
  clock = new FakeClock();
  registry = new Registry();
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  db.close();
  tmp.cleanup();
});

const signal = (check: string, status: Status, extra: Partial<Signal> = {}): Signal => freshnessSignal(clock, check, status, extra);

const staleRule = { name: 'data_stale', match: { kind: 'delta_freshness' as const }, status: 'crit' as const };

interface EngineDeps {
  signals$: Observable<Signal>;
  outbox?: OutboxStore;
  alertStore?: AlertStateStore;
  silenceStore?: SilenceStore;
}

function engine(cfg: AlertsConfigInput, deps: EngineDeps, extra: Partial<Parameters<typeof createAlertEngine>[0]> = {}): AlertEngine {
  const config = alertsConfigSchema.parse({ sinks: { hook: { type: 'webhook', url: 'http://127.0.0.1:1/x' } }, route: { sinks: ['hook'] }, default_rules: false, ...cfg });
  const { rules, inhibit } = resolveAlertRules(config);
  const e = createAlertEngine({
    rules,
    inhibit,
    route: config.route,
    signals$: deps.signals$,
    alertStore: deps.alertStore ?? createSqliteAlertStateStore(db),
    silenceStore: deps.silenceStore ?? createSqliteSilenceStore(db),
    outbox: deps.outbox ?? createSqliteOutboxStore(db),
    clock,
    logger: silentLogger,
    ...extra,
  });
  registerAlertMetrics({ registry, alerts: e });
  closers.push(() => e.stop());
  void e.start();
  return e;
}

describe('alert engine: transient errors', () => {
  it('re-subscribes to an input stream that errored and keeps evaluating', async () => {
    const live = new Subject<Signal>();
    let subscriptions = 0;
    // first subscription: one signal, then the stream fails; the next ones get the live subject
    const signals$ = defer(() =>
      subscriptions++ === 0
        ? concat(
            of(signal('gold_freshness', 'crit')),
            throwError(() => new Error('upstream exploded')),
          )
        : live,
    );
    const e = engine({ rules: [staleRule] }, { signals$ });
    expect(e.snapshot().map((a) => `${a.labels.check}:${a.state}`)).toEqual(['gold_freshness:firing']);
    expect(e.errorCounts().input).toBe(1);
    expect(await metricValue(registry, 'supervisor_alerts_evaluation_errors_total', { stage: 'input' })).toBe(1);
    await clock.advance(1_000); // the first retry waits 1 s
    expect(subscriptions).toBe(2);
    live.next(signal('silver_freshness', 'crit'));
    live.next(signal('gold_freshness', 'ok'));
    expect(e.snapshot().map((a) => `${a.labels.check}:${a.state}`)).toEqual(['gold_freshness:resolved', 'silver_freshness:firing']);
  });

  it('skips an event whose processing throws, counts it, and evaluates the next one', () => {
    const signals = new Subject<Signal>();
    const e = engine({ rules: [staleRule] }, { signals$: signals });
    const poisoned = signal('gold_freshness', 'crit', {
      labels: {
        get layer(): string {
          throw new Error('a getter that throws');
        },
      },
    });
    signals.next(poisoned);
    expect(e.errorCounts().event).toBe(1);
    signals.next(signal('silver_freshness', 'crit'));
    expect(e.snapshot().map((a) => `${a.labels.check}:${a.state}`)).toEqual(['silver_freshness:firing']);
  });

  it('an outbox that throws once: the notification is enqueued at the next evaluation', async () => {
    const signals = new Subject<Signal>();
    const outbox = flaky(createSqliteOutboxStore(db), { enqueue: 1 });
    const e = engine({ rules: [staleRule] }, { signals$: signals, outbox: outbox.store });
    signals.next(signal('gold_freshness', 'crit'));
    expect(outbox.store.list({})).toHaveLength(0);
    expect(e.errorCounts().notify).toBe(1);
    await clock.advance(1_000);
    expect(outbox.store.list({}).map((x) => x.notification.kind)).toEqual(['firing']);
    expect(await metricValue(registry, 'supervisor_alerts_evaluation_errors_total', { stage: 'notify' })).toBe(1);
  });

  it('an alert store that throws once: evaluation goes on and the next change is persisted', () => {
    const signals = new Subject<Signal>();
    const alertStore = flaky(createSqliteAlertStateStore(db), { saveAlert: 1 });
    const e = engine({ rules: [staleRule] }, { signals$: signals, alertStore: alertStore.store });
    signals.next(signal('gold_freshness', 'crit'));
    expect(e.errorCounts().store).toBe(1);
    expect(e.snapshot()[0]).toMatchObject({ state: 'firing' });
    signals.next(signal('gold_freshness', 'crit'));
    expect(createSqliteAlertStateStore(db).loadAlerts()).toEqual([expect.objectContaining({ state: 'firing' })]);
  });
});

describe('alert engine: silences in memory', () => {
  it('reads silences at start, on change and every silenceRefreshMs, never per signal', async () => {
    const signals = new Subject<Signal>();
    const silences = flaky(createSqliteSilenceStore(db));
    const e = engine({ rules: [staleRule] }, { signals$: signals, silenceStore: silences.store }, { silenceRefreshMs: 10_000 });
    const atStart = silences.calls.listSilences ?? 0;
    expect(atStart).toBe(1);
    for (let i = 0; i < 200; i++) signals.next(signal(`t${i}_freshness`, i % 2 ? 'crit' : 'ok'));
    expect(silences.calls.listSilences).toBe(atStart);
    // created through another store object on the same database (as the API does): re-read once
    createSqliteSilenceStore(db).addSilence({ id: 's1', matchers: { check: '~t1_.*' }, startsAt: clock.now(), endsAt: clock.now() + 60 * MIN, createdBy: 't', comment: '' });
    signals.next(signal('t1_freshness', 'crit'));
    signals.next(signal('t3_freshness', 'crit'));
    expect(silences.calls.listSilences).toBe(atStart + 1);
    expect(e.snapshot().find((a) => a.labels.check === 't1_freshness')!.silencedBy).toEqual(['s1']);
    // another process (the CLI) writes directly: seen within silenceRefreshMs
    db.prepare(`INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)`).run(
      's2',
      JSON.stringify({ check: 't3_freshness' }),
      clock.now(),
      clock.now() + 60 * MIN,
      'cli',
      '',
    );
    await clock.advance(10_000);
    expect(e.snapshot().find((a) => a.labels.check === 't3_freshness')!.silencedBy).toEqual(['s2']);
    expect(silences.calls.listSilences).toBeLessThanOrEqual(atStart + 3);
  });

  it('keeps the previous silences when reading them fails once, and retries', async () => {
    const signals = new Subject<Signal>();
    const silences = flaky(createSqliteSilenceStore(db));
    const e = engine({ rules: [staleRule] }, { signals$: signals, silenceStore: silences.store });
    silences.store.addSilence({ id: 's1', matchers: { check: 'gold_freshness' }, startsAt: clock.now(), endsAt: clock.now() + 60 * MIN, createdBy: 't', comment: '' });
    silences.failNext('listSilences');
    signals.next(signal('gold_freshness', 'crit'));
    expect(e.errorCounts().silences).toBe(1);
    await clock.advance(1_000);
    expect(e.snapshot()[0]!.silencedBy).toEqual(['s1']);
    expect(await metricValue(registry, 'supervisor_alerts_evaluation_errors_total', { stage: 'silences' })).toBe(1);
  });

  it('skips a stored silence whose pattern no longer compiles (never runs it on the JS engine) and applies the others', () => {
    // written by an older version that validated with new RegExp(): a look-ahead RE2 refuses
    const insert = db.prepare(`INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)`);
    insert.run('old', JSON.stringify({ check: '~(?=gold).*' }), clock.now(), clock.now() + 60 * MIN, 'old', '');
    insert.run('catastrophic', JSON.stringify({ alertname: '~(.*.*)*x' }), clock.now(), clock.now() + 60 * MIN, 'api', '');
    insert.run('good', JSON.stringify({ check: 'gold_freshness' }), clock.now(), clock.now() + 60 * MIN, 'api', '');
    const signals = new Subject<Signal>();
    const e = engine({ rules: [staleRule] }, { signals$: signals });
    signals.next(signal('gold_freshness', 'crit', { labels: { layer: 'a'.repeat(5_000) } }));
    expect(e.snapshot()).toEqual([expect.objectContaining({ state: 'firing', silencedBy: ['good'] })]);
  });
});

describe('alert engine: inhibition', () => {
  it('inhibits by equal labels through an index, and an alert never inhibits itself', () => {
    const signals = new Subject<Signal>();
    const e = engine(
      {
        rules: [
          { name: 'cluster_down', match: { kind: 'kafka_cluster' as const }, status: 'crit' as const },
          { name: 'data_stale', match: { kind: 'delta_freshness' as const }, status: 'crit' as const },
        ],
        inhibit: [
          { source_match: { alertname: 'cluster_down' }, target_match: { alertname: 'data_stale' }, equal: ['zone'] },
          { source_match: { alertname: 'cluster_down' }, target_match: { alertname: 'cluster_down' }, equal: ['zone'] },
        ],
      },
      { signals$: signals },
    );
    const N = 120;
    for (let i = 0; i < N; i++) signals.next(signal(`t${i}_freshness`, 'crit', { labels: { zone: `z${i}` } }));
    for (let i = 0; i < N; i += 3) signals.next(signal(`kafka${i}`, 'crit', { kind: 'kafka_cluster', labels: { zone: `z${i}` } }));
    const views = e.snapshot();
    const stale = views.filter((a) => a.rule === 'data_stale');
    expect(stale).toHaveLength(N);
    for (const a of stale) expect(a.inhibited).toBe(Number(a.labels.zone!.slice(1)) % 3 === 0);
    // cluster_down matches both sides of the second rule: alone in its zone, it is not inhibited by itself
    expect(views.filter((a) => a.rule === 'cluster_down').every((a) => !a.inhibited)).toBe(true);
    signals.next(signal('kafka0', 'ok', { kind: 'kafka_cluster', labels: { zone: 'z0' } }));
    expect(e.snapshot().find((a) => a.labels.check === 't0_freshness')!.inhibited).toBe(false);
  });
});

describe('outbox worker: transient store errors', () => {
  function worker(outbox: OutboxStore, sinks: ScriptedSink[]): OutboxWorker {
    const w = createOutboxWorker({ outbox, sinks, clock, logger: silentLogger, random: () => 0.5 });
    registerOutboxMetrics({ registry, outbox: w });
    closers.push(() => w.stop());
    return w;
  }

  it('an idle check that throws does not stop delivery (it used to end the loop silently)', async () => {
    const sink = new ScriptedSink('a', clock);
    const outbox = flaky(createSqliteOutboxStore(db));
    const w = worker(outbox.store, [sink]);
    void w.start();
    outbox.failNext('nextDueAt');
    const idle = w.idle();
    await clock.advance(0);
    expect(w.errorCounts().idle).toBe(1);
    outbox.store.enqueue(note('k1'), ['a'], clock.now());
    w.wake();
    await clock.advance(1_000); // the store backoff
    await idle;
    expect(sink.delivered.map((n) => n.dedupKey)).toEqual(['k1']);
    expect(await metricValue(registry, 'supervisor_alerts_outbox_errors_total', { operation: 'idle' })).toBe(1);
  });

  it('reading due entries fails three times: retried with backoff, then delivered', async () => {
    const sink = new ScriptedSink('a', clock);
    const outbox = flaky(createSqliteOutboxStore(db));
    outbox.store.enqueue(note('k1'), ['a'], clock.now());
    outbox.failNext('due', 3);
    const w = worker(outbox.store, [sink]);
    void w.start();
    await clock.advance(0);
    expect(sink.delivered).toHaveLength(0);
    await clock.advance(1_000 + 2_000 + 4_000);
    await w.idle();
    expect(sink.delivered.map((n) => n.dedupKey)).toEqual(['k1']);
    expect(w.errorCounts().due).toBe(3);
    expect(outbox.store.stats()).toEqual({ pending: 0, delivered: 1, dead: 0 });
  });

  it('recording a delivery fails once: the entry stays pending and is delivered again (at least once)', async () => {
    const sink = new ScriptedSink('a', clock);
    const outbox = flaky(createSqliteOutboxStore(db));
    outbox.store.enqueue(note('k1'), ['a'], clock.now());
    outbox.failNext('markDelivered');
    const w = worker(outbox.store, [sink]);
    void w.start();
    await clock.advance(0);
    expect(w.errorCounts().mark).toBe(1);
    await clock.advance(5_000);
    await w.idle();
    expect(sink.delivered.map((n) => n.dedupKey)).toEqual(['k1', 'k1']);
    expect(outbox.store.stats()).toEqual({ pending: 0, delivered: 1, dead: 0 });
  });

  it('checking for unconfigured sinks at start fails once: retried on the next pass', async () => {
    const sink = new ScriptedSink('a', clock);
    const outbox = flaky(createSqliteOutboxStore(db));
    outbox.store.enqueue(note('gone'), ['removed_sink'], clock.now());
    outbox.failNext('list');
    const w = worker(outbox.store, [sink]);
    void w.start();
    await clock.advance(1_000);
    await w.idle();
    expect(w.errorCounts().unknown_sinks).toBe(1);
    expect(outbox.store.stats()).toEqual({ pending: 0, delivered: 0, dead: 1 });
  });
});
