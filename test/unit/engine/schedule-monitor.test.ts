/**
 * The schedule monitor over a real (in-memory SQLite) run store and pipeline-state store, with
 * a fake clock: deadlines (every reason a date can be late, from: queued_at, resolution), missed
 * ticks (causes, counted once, cleared by a later success), paused pipelines, catchup, DST.
 */
import { Registry } from 'prom-client';
import { configSchema } from '../../../src/config/schema';
import { createPipelineCatalog } from '../../../src/engine/dag';
import { createScheduleMonitor, type ScheduleMonitorParams } from '../../../src/engine/schedule-monitor';
import { registerScheduleMonitorMetrics } from '../../../src/metrics/schedule-monitor';
import type { PipelineDeadlineFacts, PipelineScheduleFacts, Signal } from '../../../src/protocol';
import { createPipelineStateStore, type PipelineStateStore } from '../../../src/store/pipeline-state';
import type { RunState, TriggerKind } from '../../../src/protocol';
import type { RunStore } from '../../../src/store/runs';
import { memoryStore } from './helpers';

const H = 3_600_000;
const M = 60_000;
const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const task = [{ id: 'a', operator: 'command' }];

interface Setup {
  store: RunStore;
  state: PipelineStateStore;
  registry: Registry;
  clock: { now: number };
  monitor: ReturnType<typeof createScheduleMonitor>;
  close(): void;
}

function setup(pipelines: Record<string, unknown>, options: { firstSeenAt?: number; startedAt?: number; unseen?: boolean; extra?: Partial<ScheduleMonitorParams> } = {}): Setup {
  const { db, store, close } = memoryStore();
  const state = createPipelineStateStore(db);
  const catalog = createPipelineCatalog(configSchema.parse({ pipelines }));
  const clock = { now: options.firstSeenAt ?? T0 };
  // the engine's call at its first start: when the store first saw the pipelines
  if (!options.unseen) {
    state.ensure(
      catalog.list().map((p) => ({ id: p.id, paused: p.paused })),
      options.firstSeenAt ?? T0,
    );
  }
  const registry = new Registry();
  // read at scrape time, once the monitor below exists
  const metrics = registerScheduleMonitorMetrics({ registry, overdue: () => monitor.overdue(), pipelines: catalog.list().map((p) => p.id) });
  const monitor = createScheduleMonitor({
    catalog,
    runs: store,
    pipelineState: state,
    now: () => clock.now,
    metrics,
    startedAt: options.startedAt ?? T0,
    ...options.extra,
  });
  return { store, state, registry, clock, monitor, close };
}

function run(
  store: RunStore,
  pipeline: string,
  logicalDate: number,
  state: RunState,
  extra: { kind?: TriggerKind; reason?: string; queuedAt?: number; rerun?: boolean; endedAt?: number } = {},
) {
  const queuedAt = extra.queuedAt ?? logicalDate;
  const { run: r } = store.insertRun({
    pipeline,
    logicalDate,
    kind: extra.kind ?? 'cron',
    firedAt: logicalDate,
    queuedAt,
    state: state === 'skipped' ? 'skipped' : 'queued',
    ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
    ...(extra.rerun ? { rerun: true } : {}),
  });
  if (state !== 'queued' && state !== 'skipped') {
    store.updateRun(r.id, { state, startedAt: queuedAt, ...(state === 'running' ? {} : { endedAt: extra.endedAt ?? queuedAt + M }) });
  }
  return r;
}

const only = (signals: Signal[], target: string): Signal => {
  const s = signals.find((x) => x.target === target);
  if (!s) throw new Error(`no signal for ${target}: ${signals.map((x) => x.target).join(', ')}`);
  return s;
};
const deadlineFacts = (s: Signal) => s.facts as PipelineDeadlineFacts;
const scheduleFacts = (s: Signal) => s.facts as PipelineScheduleFacts;

async function counter(registry: Registry, name: string, pipeline: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => v.labels.pipeline === pipeline)?.value;
}

describe('schedule monitor: deadlines', () => {
  let s: Setup;
  afterEach(() => s.close());

  it('names every logical date past its deadline and why, and resolves when each has a success', async () => {
    s = setup(
      {
        hourly: { schedule: '0 * * * *', deadline: { after: '45m' }, tasks: task },
        no_deadline: { schedule: '0 * * * *', tasks: task },
      },
      { startedAt: T0 + 2 * H + 30 * M },
    );
    // 01:00 succeeded; 02:00 was skipped by its gate; 03:00 has no run (the daemon started at 02:30
    // and, say, the tick was lost); 04:00 is not due yet
    run(s.store, 'hourly', T0 + H, 'success');
    run(s.store, 'hourly', T0 + 2 * H, 'skipped', { reason: 'gate: consumer group g lags 5 messages on t (above 0)' });
    s.clock.now = T0 + 4 * H + 10 * M;
    const signals = s.monitor.evaluateDeadlines();
    expect(signals.map((x) => x.target)).toEqual(['hourly']); // no signal for a pipeline without a deadline
    const sig = only(signals, 'hourly');
    expect(sig).toMatchObject({ check: 'pipeline_deadline', kind: 'pipeline_deadline', status: 'crit', value: 2, labels: { pipeline: 'hourly' } });
    expect(deadlineFacts(sig).overdue.map((m) => [new Date(m.logicalDate).toISOString(), m.reason])).toEqual([
      ['2026-12-01T02:00:00.000Z', 'gated'],
      ['2026-12-01T03:00:00.000Z', 'no_run'],
    ]);
    expect(sig.summary).toContain('2026-12-01T02:00:00.000Z was skipped by its gate (gate: consumer group g lags 5 messages');
    expect(sig.summary).toContain('2026-12-01T03:00:00.000Z has no run');
    expect(await counter(s.registry, 'supervisor_pipeline_deadline_misses_total', 'hourly')).toBe(2);
    expect(await counter(s.registry, 'supervisor_pipeline_runs_past_deadline', 'hourly')).toBe(2);

    // counted once per logical date, however often evaluated
    s.monitor.evaluateDeadlines();
    expect(await counter(s.registry, 'supervisor_pipeline_deadline_misses_total', 'hourly')).toBe(2);

    // an operator reruns 02:00 and backfills 03:00: both succeed → ok
    run(s.store, 'hourly', T0 + 2 * H, 'success', { rerun: true, kind: 'manual', queuedAt: T0 + 4 * H });
    run(s.store, 'hourly', T0 + 3 * H, 'success', { kind: 'backfill', queuedAt: T0 + 4 * H });
    const after = only(s.monitor.evaluateDeadlines(), 'hourly');
    expect(after).toMatchObject({ status: 'ok', value: 0 });
    expect(await counter(s.registry, 'supervisor_pipeline_runs_past_deadline', 'hourly')).toBe(0);
    expect(await counter(s.registry, 'supervisor_pipeline_deadline_misses_total', 'hourly')).toBe(2);
  });

  it('explains queued (behind another run), running, failed, timed out and cancelled runs; manual runs count, test runs do not', () => {
    s = setup({ p: { schedule: '0 * * * *', overlap: 'buffer_one', deadline: { after: '30m' }, tasks: task } });
    run(s.store, 'p', T0 + H, 'running', { queuedAt: T0 + H });
    run(s.store, 'p', T0 + 2 * H, 'queued');
    run(s.store, 'p', T0 + 3 * H, 'failed', { reason: 'task a failed' });
    run(s.store, 'p', T0 + 4 * H, 'timed_out');
    run(s.store, 'p', T0 + 5 * H, 'cancelled');
    run(s.store, 'p', T0 + 5 * H + 7 * M, 'failed', { kind: 'manual' });
    run(s.store, 'p', T0 + 5 * H + 9 * M, 'failed', { kind: 'test', rerun: true });
    run(s.store, 'p', T0 + 6 * H, 'success');
    s.clock.now = T0 + 6 * H + 40 * M;
    const sig = only(s.monitor.evaluateDeadlines(), 'p');
    const reasons = deadlineFacts(sig).overdue.map((m) => m.reason);
    expect(reasons).toEqual(['running', 'queued_behind_overlap', 'failed', 'timed_out', 'cancelled', 'failed']);
    expect(deadlineFacts(sig).overdue[1]!.detail).toMatch(/^is queued behind run p\.scheduled__2026-12-01T01:00:00\.000Z/);
    expect(sig.value).toBe(6);
    expect(sig.summary).toContain('and 3 more');
  });

  it('from: queued_at measures from the queued time of the run (the tick, when there is no run)', () => {
    s = setup({ q: { schedule: '0 * * * *', deadline: { after: '30m', from: 'queued_at' }, tasks: task } });
    // queued 50 min late: due at 01:50 + 30m = 02:20
    run(s.store, 'q', T0 + H, 'running', { queuedAt: T0 + H + 50 * M });
    s.clock.now = T0 + 2 * H + 10 * M;
    expect(only(s.monitor.evaluateDeadlines(), 'q').status).toBe('ok');
    s.clock.now = T0 + 2 * H + 31 * M;
    const sig = only(s.monitor.evaluateDeadlines(), 'q');
    // 01:00 (queued late, now due) and 02:00 (no run: due at its tick + 30m)
    expect(deadlineFacts(sig).overdue.map((m) => [m.logicalDate, m.dueAt])).toEqual([
      [T0 + H, T0 + 2 * H + 20 * M],
      [T0 + 2 * H, T0 + 2 * H + 30 * M],
    ]);
  });

  it('a paused pipeline is ok ("paused"); after unpausing, only ticks since the unpause count', async () => {
    s = setup({ p: { schedule: '0 * * * *', deadline: { after: '10m' }, tasks: task } });
    run(s.store, 'p', T0, 'success');
    s.state.setPaused('p', true, 'cli:ops', 'maintenance', T0 + 30 * M);
    s.clock.now = T0 + 5 * H;
    const paused = only(s.monitor.evaluateDeadlines(), 'p');
    expect(paused).toMatchObject({ status: 'ok', summary: 'pipeline p is paused' });
    expect(deadlineFacts(paused).paused).toBe(true);
    const schedule = only(s.monitor.evaluateSchedules(), 'p');
    expect(schedule).toMatchObject({ status: 'ok', summary: 'pipeline p is paused' });
    expect(await counter(s.registry, 'supervisor_pipeline_deadline_misses_total', 'p')).toBe(0);
    expect(await counter(s.registry, 'supervisor_pipeline_missed_schedules_total', 'p')).toBe(0);

    s.state.setPaused('p', false, 'cli:ops', null, T0 + 5 * H + 5 * M);
    s.clock.now = T0 + 6 * H + 20 * M;
    const sig = only(s.monitor.evaluateDeadlines(), 'p');
    // 01:00–05:00 were ticks while paused; only 06:00 (after the unpause) is due
    expect(deadlineFacts(sig).overdue.map((m) => m.logicalDate)).toEqual([T0 + 6 * H]);
  });

  it('a pipeline config paused: true, first seen paused, is paused', () => {
    s = setup({ p: { schedule: '0 * * * *', paused: true, deadline: { after: '10m' }, tasks: task } });
    s.clock.now = T0 + 5 * H;
    expect(only(s.monitor.evaluateDeadlines(), 'p').summary).toBe('pipeline p is paused');
  });

  it('ticks before the store first saw the pipeline, or beyond the lookback, do not count', () => {
    s = setup({ p: { schedule: '0 * * * *', deadline: { after: '10m', lookback: '2h' }, tasks: task } }, { firstSeenAt: T0 + 3 * H + 30 * M });
    run(s.store, 'p', T0 + 3 * H, 'success', { kind: 'manual' });
    s.clock.now = T0 + 5 * H + 20 * M;
    expect(deadlineFacts(only(s.monitor.evaluateDeadlines(), 'p')).overdue.map((m) => m.logicalDate)).toEqual([T0 + 4 * H, T0 + 5 * H]);
    s.clock.now = T0 + 7 * H + 20 * M;
    // lookback 2h: (05:20, 07:20]
    expect(deadlineFacts(only(s.monitor.evaluateDeadlines(), 'p')).overdue.map((m) => m.logicalDate)).toEqual([T0 + 6 * H, T0 + 7 * H]);
  });

  it('ticks before the first run of the pipeline do not count (the CLI may have recorded it long before any daemon ran it)', () => {
    s = setup({ p: { schedule: '0 * * * *', deadline: { after: '10m' }, tasks: task } });
    s.clock.now = T0 + 5 * H + 30 * M;
    expect(only(s.monitor.evaluateDeadlines(), 'p')).toMatchObject({ status: 'ok', summary: 'pipeline p has not run yet' });
    expect(only(s.monitor.evaluateSchedules(), 'p')).toMatchObject({ status: 'ok', summary: 'pipeline p has not run yet' });
    // the daemon ran it first at 05:00 (gated): 01:00–04:00 are not expected, 05:00 is late
    run(s.store, 'p', T0 + 5 * H, 'skipped', { reason: 'gate: Kafka is unhealthy (no broker answered)' });
    expect(deadlineFacts(only(s.monitor.evaluateDeadlines(), 'p')).overdue.map((m) => [m.logicalDate, m.reason])).toEqual([[T0 + 5 * H, 'gated']]);
    expect(only(s.monitor.evaluateSchedules(), 'p').status).toBe('ok');
  });

  it('DST: Europe/Berlin 02:30 daily falls in the skipped hour on 29 March; the monitor expects the tick where croner (and the engine) puts it', () => {
    const firstSeen = Date.parse('2026-03-27T12:00:00Z');
    s = setup({ berlin: { schedule: '30 2 * * *', timezone: 'Europe/Berlin', deadline: { after: '1h' }, tasks: task } }, { firstSeenAt: firstSeen, startedAt: firstSeen });
    const shifted = Date.parse('2026-03-29T01:00:00.000Z'); // 03:00 CEST, the first valid minute after 02:30
    run(s.store, 'berlin', Date.parse('2026-03-28T01:30:00.000Z'), 'success'); // 02:30 CET
    s.clock.now = Date.parse('2026-03-29T02:30:00Z');
    const sig = only(s.monitor.evaluateDeadlines(), 'berlin');
    expect(deadlineFacts(sig).overdue.map((m) => new Date(m.logicalDate).toISOString())).toEqual(['2026-03-29T01:00:00.000Z']);
    expect(scheduleFacts(only(s.monitor.evaluateSchedules(), 'berlin')).missed.map((m) => new Date(m.tick).toISOString())).toEqual(['2026-03-29T01:00:00.000Z']);
    run(s.store, 'berlin', shifted, 'success');
    expect(only(s.monitor.evaluateDeadlines(), 'berlin').status).toBe('ok');
    // the next day at 02:30 CEST = 00:30Z
    s.clock.now = Date.parse('2026-03-30T01:31:00Z');
    expect(deadlineFacts(only(s.monitor.evaluateDeadlines(), 'berlin')).overdue.map((m) => new Date(m.logicalDate).toISOString())).toEqual(['2026-03-30T00:30:00.000Z']);
  });

  it('a manual-only pipeline with a deadline judges its runs; probes exist only for what has pipelines', () => {
    s = setup({ manual: { deadline: { after: '5m' }, tasks: task } });
    expect(s.monitor.probes().map((p) => p.name)).toEqual(['pipeline_deadline']);
    run(s.store, 'manual', T0 + M, 'failed', { kind: 'manual' });
    s.clock.now = T0 + 10 * M;
    expect(s.monitor.evaluateSchedules()).toEqual([]);
    expect(deadlineFacts(only(s.monitor.evaluateDeadlines(), 'manual')).overdue.map((m) => m.reason)).toEqual(['failed']);
  });
});

describe('schedule monitor: missed schedule ticks', () => {
  let s: Setup;
  afterEach(() => s.close());

  it('reports ticks missed while the daemon was down at the first evaluation, counts each once, clears after a later success', async () => {
    // first seen at T0, the daemon (re)started at 03:30: 01:00–03:00 had no run
    s = setup({ p: { schedule: '0 * * * *', tasks: task } }, { startedAt: T0 + 3 * H + 30 * M });
    run(s.store, 'p', T0, 'success'); // T0 itself is not after first seen: not judged
    s.clock.now = T0 + 3 * H + 30 * M;
    const sig = only(s.monitor.evaluateSchedules(), 'p');
    expect(sig).toMatchObject({ check: 'pipeline_schedule', kind: 'pipeline_schedule', status: 'warn', value: 3 });
    expect(scheduleFacts(sig).missed).toEqual([
      { tick: T0 + H, cause: 'daemon_down' },
      { tick: T0 + 2 * H, cause: 'daemon_down' },
      { tick: T0 + 3 * H, cause: 'daemon_down' },
    ]);
    expect(sig.summary).toBe(
      'pipeline p: 3 schedule ticks produced no run: 2026-12-01T01:00:00.000Z; 2026-12-01T02:00:00.000Z; 2026-12-01T03:00:00.000Z (the supervisor was not running)',
    );
    expect(await counter(s.registry, 'supervisor_pipeline_missed_schedules_total', 'p')).toBe(3);
    s.monitor.evaluateSchedules();
    expect(await counter(s.registry, 'supervisor_pipeline_missed_schedules_total', 'p')).toBe(3);

    // the 04:00 tick runs and succeeds: the schedule is back on track
    run(s.store, 'p', T0 + 4 * H, 'success');
    s.clock.now = T0 + 4 * H + 5 * M;
    expect(only(s.monitor.evaluateSchedules(), 'p')).toMatchObject({ status: 'ok', value: 0 });
    expect(await counter(s.registry, 'supervisor_pipeline_missed_schedules_total', 'p')).toBe(3);
  });

  it('a tick skipped while a run was active is put down to the overlap policy; one with nothing active to a clock jump; a fresh tick has a grace', () => {
    s = setup({ p: { schedule: '*/10 * * * *', tasks: task } }, { extra: { missedGraceMs: 30_000 } });
    // a run from 00:10 still running at 00:20 (overlap skip); nothing active at 00:40
    run(s.store, 'p', T0 + 10 * M, 'running', { queuedAt: T0 + 10 * M });
    run(s.store, 'p', T0 + 30 * M, 'failed');
    s.clock.now = T0 + 50 * M + 20_000; // 00:50 is 20 s old: within the grace
    const sig = only(s.monitor.evaluateSchedules(), 'p');
    expect(scheduleFacts(sig).missed).toEqual([
      { tick: T0 + 20 * M, cause: 'overlap' },
      { tick: T0 + 40 * M, cause: 'overlap' },
    ]);
    expect(sig.summary).toContain('a run was still active (overlap policy)');
  });

  it('classifies a tick without any active run as a clock jump', () => {
    s = setup({ p: { schedule: '*/10 * * * *', tasks: task } });
    run(s.store, 'p', T0 + 10 * M, 'success', { endedAt: T0 + 11 * M });
    s.clock.now = T0 + 25 * M;
    expect(scheduleFacts(only(s.monitor.evaluateSchedules(), 'p')).missed).toEqual([{ tick: T0 + 20 * M, cause: 'clock_jump' }]);
  });

  it('a catchup pipeline is not judged for ticks before the start until the engine has started (its catchup creates those runs)', () => {
    let engineStarted = false;
    s = setup({ p: { schedule: '0 * * * *', catchup: true, tasks: task } }, { startedAt: T0 + 2 * H + 30 * M, extra: { engineStarted: () => engineStarted } });
    run(s.store, 'p', T0, 'success');
    s.clock.now = T0 + 2 * H + 30 * M;
    expect(only(s.monitor.evaluateSchedules(), 'p').status).toBe('ok');
    // the engine started and caught up 02:00 only (say its catchup bound was 1)
    run(s.store, 'p', T0 + 2 * H, 'running');
    engineStarted = true;
    expect(scheduleFacts(only(s.monitor.evaluateSchedules(), 'p')).missed).toEqual([{ tick: T0 + H, cause: 'daemon_down' }]);
  });

  it('a pipeline the store has not seen is not judged until the engine has started; then its window starts at that moment', () => {
    let engineStarted = false;
    s = setup({ p: { schedule: '0 * * * *', deadline: { after: '1m' }, tasks: task } }, { unseen: true, extra: { engineStarted: () => engineStarted } });
    s.clock.now = T0 + 5 * H + 30 * M;
    expect(only(s.monitor.evaluateSchedules(), 'p')).toMatchObject({ status: 'ok', summary: 'pipeline p is not scheduled yet (the engine has not started)' });
    expect(only(s.monitor.evaluateDeadlines(), 'p').status).toBe('ok');
    expect(s.state.get('p')).toBeNull();
    engineStarted = true;
    expect(only(s.monitor.evaluateDeadlines(), 'p').status).toBe('ok'); // first seen now: no tick before counts
    expect(s.state.get('p')?.firstSeenAt).toBe(T0 + 5 * H + 30 * M);
    run(s.store, 'p', T0 + 5 * H + 40 * M, 'success', { kind: 'manual' });
    s.clock.now = T0 + 6 * H + 2 * M;
    expect(deadlineFacts(only(s.monitor.evaluateDeadlines(), 'p')).overdue.map((m) => m.logicalDate)).toEqual([T0 + 6 * H]);
  });

  it('judges at most maxTicks (the newest) of a dense schedule', () => {
    s = setup({ fast: { schedule: '* * * * * *', tasks: task } }, { extra: { maxTicks: 50, missedGraceMs: 0 } });
    run(s.store, 'fast', T0, 'success');
    s.clock.now = T0 + 10 * M;
    const facts = scheduleFacts(only(s.monitor.evaluateSchedules(), 'fast'));
    expect(facts.missedCount).toBe(50);
    // the facts list the oldest 20 of those 50: the newest 50 end at now
    expect(facts.missed[0]!.tick).toBe(T0 + 10 * M - 49_000);
    // the cache moves with the window: 5 s later, still the newest 50
    s.clock.now = T0 + 10 * M + 5_000;
    const next = scheduleFacts(only(s.monitor.evaluateSchedules(), 'fast'));
    expect(next.missedCount).toBe(50);
    expect(next.missed[0]!.tick).toBe(T0 + 10 * M + 5_000 - 49_000);
  });
});
