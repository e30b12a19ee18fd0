import { Registry } from 'prom-client';
import type Database from 'better-sqlite3';
import { createOutboxWorker, wakeOnEnqueue, type OutboxWorker } from '../../../alerts/outbox-worker';
import { registerOutboxMetrics } from '../../../src/metrics/outbox';
import type { OutboxStore } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { createSqliteOutboxStore } from '../../../src/store/outbox';
import { openAlertDb, tempDbPath } from '../../helpers/alert-db';
import { FakeClock, ScriptedSink, note } from './fakes';

let tmp: ReturnType<typeof tempDbPath>;
let db: Database.Database;
let store: OutboxStore;
let clock: FakeClock;
const workers: OutboxWorker[] = [];

beforeEach(() => {
  tmp = tempDbPath('outbox-');
  db = openAlertDb(tmp.file);
  store = createSqliteOutboxStore(db);
  clock = new FakeClock();
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  db.close();
  tmp.cleanup();
});

function worker(sinks: ScriptedSink[], extra: Partial<Parameters<typeof createOutboxWorker>[0]> = {}): OutboxWorker {
  const w = createOutboxWorker({ outbox: store, sinks, clock, logger: silentLogger, random: () => 0.5, baseDelayMs: 1000, maxDelayMs: 60_000, ...extra });
  workers.push(w);
  return w;
}

describe('SQLite outbox store', () => {
  it('enqueues one entry per sink and ignores an existing (sink, dedupKey)', () => {
    expect(store.enqueue(note('k1'), ['a', 'b', 'a'], 100)).toHaveLength(2);
    expect(store.enqueue(note('k1'), ['a', 'b'], 200)).toEqual([]);
    expect(store.enqueue(note('k1'), ['c'], 200)).toHaveLength(1);
    expect(store.stats()).toEqual({ pending: 3, delivered: 0, dead: 0 });
  });

  it('returns due entries oldest first, per sink, and tracks retries and states', () => {
    const [a1] = store.enqueue(note('k1'), ['a'], 100);
    const [a2] = store.enqueue(note('k2'), ['a'], 200);
    store.enqueue(note('k3'), ['b'], 150);
    expect(store.due(150, 10).map((e) => e.dedupKey)).toEqual(['k1', 'k3']);
    expect(store.due(1000, 10, 'a').map((e) => e.dedupKey)).toEqual(['k1', 'k2']);
    store.markRetry(a1!, 5000, 'HTTP 503');
    expect(store.due(1000, 10, 'a').map((e) => e.dedupKey)).toEqual(['k2']);
    expect(store.nextDueAt('a')).toBe(200);
    store.markDelivered(a2!, 300);
    expect(store.nextDueAt('a')).toBe(5000);
    const [retried] = store.list({ sink: 'a', state: 'pending' });
    expect(retried).toMatchObject({ attempts: 1, lastError: 'HTTP 503', nextAttemptAt: 5000 });
    store.markDead(a1!, 'HTTP 400');
    expect(store.stats()).toEqual({ pending: 1, delivered: 1, dead: 1 });
    expect(store.nextDueAt('a')).toBeNull();
    expect(store.list({ state: 'delivered' })[0]).toMatchObject({ dedupKey: 'k2', deliveredAt: 300, attempts: 1 });
    expect(store.prune(10_000)).toBe(2);
    expect(store.stats()).toEqual({ pending: 1, delivered: 0, dead: 0 });
  });

  it('round-trips the notification JSON', () => {
    const n = note('k9', { labels: { alertname: 'x', check: 'gold' }, items: [{ name: 'gold', status: 'crit', value: 9000, threshold: 7200, unit: 'seconds', summary: 's' }] });
    store.enqueue(n, ['a'], 1);
    expect(store.due(1, 1)[0]!.notification).toEqual(n);
  });
});

describe('outbox worker', () => {
  it('delivers to every sink as soon as it is woken', async () => {
    const a = new ScriptedSink('a', clock);
    const b = new ScriptedSink('b', clock);
    const w = worker([a, b]);
    const outbox = wakeOnEnqueue(store, () => w.wake());
    void w.start();
    outbox.enqueue(note('k1'), ['a', 'b'], clock.now());
    await w.idle();
    expect(a.delivered.map((n) => n.dedupKey)).toEqual(['k1']);
    expect(b.delivered.map((n) => n.dedupKey)).toEqual(['k1']);
    expect(store.stats()).toEqual({ pending: 0, delivered: 2, dead: 0 });
  });

  it('retries with exponential backoff and delivers exactly once', async () => {
    const a = new ScriptedSink('a', clock);
    a.script = ['fail', 'fail', 'fail'];
    const w = worker([a]);
    void w.start();
    const t0 = clock.now();
    store.enqueue(note('k1'), ['a'], t0);
    w.wake();
    await w.idle();
    expect(a.calls).toHaveLength(1);
    // attempt 1 failed: delay = 1000 * 2^0 with jitter 0.5 → 750 ms
    await clock.advance(749);
    expect(a.calls).toHaveLength(1);
    await clock.advance(1);
    expect(a.calls).toHaveLength(2);
    // attempt 2 failed: 2000 → 1500 ms
    await clock.advance(1500);
    expect(a.calls).toHaveLength(3);
    // attempt 3: 4000 → 3000 ms, then success
    await clock.advance(3000);
    await w.idle();
    expect(a.calls.map((c) => c.at - t0)).toEqual([0, 750, 2250, 5250]);
    expect(a.delivered).toHaveLength(1);
    await clock.advance(120_000);
    expect(a.calls).toHaveLength(4);
    expect(store.stats()).toEqual({ pending: 0, delivered: 1, dead: 0 });
  });

  it('honours Retry-After on 429 for the whole sink, then delivers everything once', async () => {
    const a = new ScriptedSink('a', clock);
    a.script = [{ status: 429, retryAfterMs: 7000 }];
    const w = worker([a]);
    void w.start();
    const t0 = clock.now();
    store.enqueue(note('k1'), ['a'], t0);
    store.enqueue(note('k2'), ['a'], t0);
    store.enqueue(note('k3'), ['a'], t0);
    w.wake();
    await w.idle();
    expect(a.calls).toHaveLength(1);
    await clock.advance(6999);
    expect(a.calls).toHaveLength(1);
    await clock.advance(1);
    await w.idle();
    // k2 and k3 were never tried, so they go first once the sink is open again; k1 is due at the same instant
    expect(a.delivered.map((n) => n.dedupKey).sort()).toEqual(['k1', 'k2', 'k3']);
    expect(a.calls.slice(1).every((c) => c.at - t0 === 7000)).toBe(true);
    expect(a.calls).toHaveLength(4);
  });

  it('marks non-retryable failures and exhausted entries dead, and counts results', async () => {
    const registry = new Registry();
    const a = new ScriptedSink('a', clock);
    a.script = ['reject'];
    const b = new ScriptedSink('b', clock);
    b.fallback = 'fail';
    const w = worker([a, b], { maxAttempts: 3 });
    registerOutboxMetrics({ registry, outbox: w });
    void w.start();
    store.enqueue(note('k1'), ['a', 'b'], clock.now());
    w.wake();
    await w.idle();
    await clock.advance(10_000);
    await w.idle();
    expect(b.calls).toHaveLength(3);
    expect(store.stats()).toEqual({ pending: 0, delivered: 0, dead: 2 });
    const dead = store.list({ state: 'dead' });
    expect(dead.map((e) => [e.sink, e.lastError])).toEqual([
      ['a', 'HTTP 400 from a'],
      ['b', 'HTTP 503 from b'],
    ]);
    const metrics = await registry.getMetricsAsJSON();
    const counter = metrics.find((m) => m.name === 'supervisor_alert_notifications_total')!;
    const value = (sink: string, result: string): number | undefined => counter.values.find((v) => v.labels.sink === sink && v.labels.result === result)?.value;
    expect(value('a', 'dead')).toBe(1);
    expect(value('b', 'retry')).toBe(2);
    expect(value('b', 'dead')).toBe(1);
    const pending = metrics.find((m) => m.name === 'supervisor_alert_outbox_pending')!;
    expect(pending.values[0]!.value).toBe(0);
  });

  it('keeps delivering to healthy sinks while another hangs', async () => {
    const slow = new ScriptedSink('slow', clock);
    slow.fallback = 'hang';
    const fast = new ScriptedSink('fast', clock);
    const w = worker([slow, fast], { closeGraceMs: 10 });
    void w.start();
    for (let i = 0; i < 5; i++) store.enqueue(note(`k${i}`), ['slow', 'fast'], clock.now());
    w.wake();
    for (let i = 0; i < 20 && fast.delivered.length < 5; i++) await clock.advance(10);
    expect(fast.delivered).toHaveLength(5);
    expect(slow.calls).toHaveLength(1);
    await w.stop();
    // the hanging delivery was aborted by stop(), not counted as an attempt: still pending, untouched
    const pending = store.list({ state: 'pending' });
    expect(pending).toHaveLength(5);
    expect(pending.every((e) => e.attempts === 0)).toBe(true);
  });

  it('survives a restart: pending entries are delivered once by the next worker, delivered ones never again', async () => {
    const down = new ScriptedSink('hook', clock);
    down.fallback = 'fail';
    const w1 = worker([down]);
    void w1.start();
    store.enqueue(note('k1'), ['hook'], clock.now());
    store.enqueue(note('k2'), ['hook'], clock.now());
    w1.wake();
    await w1.idle();
    await clock.advance(5000);
    await w1.idle();
    expect(down.delivered).toHaveLength(0);
    await w1.stop();
    await w1.stop(); // idempotent
    db.close();

    db = openAlertDb(tmp.file);
    store = createSqliteOutboxStore(db);
    // the engine re-enqueues the same notifications after the restart: ignored
    expect(store.enqueue(note('k1'), ['hook'], clock.now())).toEqual([]);
    const up = new ScriptedSink('hook', clock);
    const w2 = worker([up]);
    void w2.start();
    await clock.advance(60_000);
    await w2.idle();
    expect(up.delivered.map((n) => n.dedupKey).sort()).toEqual(['k1', 'k2']);
    await w2.stop();
    db.close();

    db = openAlertDb(tmp.file);
    store = createSqliteOutboxStore(db);
    const again = new ScriptedSink('hook', clock);
    const w3 = worker([again]);
    void w3.start();
    await clock.advance(60_000);
    await w3.idle();
    expect(again.calls).toHaveLength(0);
    expect(store.stats()).toEqual({ pending: 0, delivered: 2, dead: 0 });
  });

  it('marks entries for sinks that are no longer configured dead at start', async () => {
    store.enqueue(note('k1'), ['gone', 'a'], clock.now());
    const a = new ScriptedSink('a', clock);
    const w = worker([a]);
    void w.start();
    await w.idle();
    expect(store.list({ state: 'dead' }).map((e) => [e.sink, e.lastError])).toEqual([['gone', 'sink "gone" is not configured']]);
    expect(a.delivered).toHaveLength(1);
  });
});
