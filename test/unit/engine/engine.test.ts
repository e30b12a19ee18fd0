import { Registry } from 'prom-client';
import { Subject } from 'rxjs';
import { configSchema } from '../../../src/config/schema';
import { createEngine, type Engine } from '../../../src/engine/engine';
import type { Operator, OperatorRegistry } from '../../../src/engine/operator';
import { openDatabase } from '../../../src/store/database';
import { createRunStore } from '../../../src/store/runs';
import type { RunEvent, Trigger } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { createFakeClock, type FakeClock } from './fake-clock';

type Db = ReturnType<typeof openDatabase>;

function loaded(pipelines: Record<string, unknown>) {
  return { file: '/tmp/supervisor.yaml', config: configSchema.parse({ pipelines }), variables: {} };
}

interface Harness {
  engine: Engine;
  clock: FakeClock;
  db: Db;
  registry: Registry;
  events: RunEvent[];
  triggers: Subject<Trigger>;
  close(): Promise<void>;
}

function harness(pipelines: Record<string, unknown>, operators: OperatorRegistry, opts: { db?: Db; clock?: FakeClock; schedule?: boolean } = {}): Harness {
  const clock = opts.clock ?? createFakeClock(Date.parse('2025-10-05T00:00:30Z'));
  const db = opts.db ?? openDatabase({ file: ':memory:' });
  const registry = new Registry();
  const triggers = new Subject<Trigger>();
  const engine = createEngine({
    config: loaded(pipelines),
    db,
    clock,
    logger: silentLogger,
    registry,
    operators,
    triggers$: [triggers.asObservable()],
    schedule: opts.schedule ?? true,
    random: () => 0.5,
    pollIntervalMs: 60_000,
  });
  const events: RunEvent[] = [];
  engine.runEvents$.subscribe((e) => events.push(e));
  return {
    engine,
    clock,
    db,
    registry,
    events,
    triggers,
    close: async () => {
      await engine.close();
      if (!opts.db) db.close();
    },
  };
}

/** An operator whose calls wait until released. */
function gated() {
  const waiting: Array<{ ctx: Parameters<Operator>[0]; resolve: () => void }> = [];
  const op: Operator = (ctx) =>
    new Promise((resolve, reject) => {
      waiting.push({ ctx, resolve: () => resolve({}) });
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    });
  return { op, waiting };
}

const ok: Operator = async () => ({});

describe('engine', () => {
  it('cron ticks become runs with the tick as logical date; the schedule delay is measured', async () => {
    const calls: number[] = [];
    const op: Operator = async (ctx) => {
      calls.push(ctx.logicalDate);
      return {};
    };
    const h = harness({ p: { schedule: '* * * * *', tasks: [{ id: 'a', operator: 'command' }] } }, { command: op });
    await h.engine.start();
    await h.clock.advance(30_000);
    await h.clock.advance(60_000);
    expect(calls.map((t) => new Date(t).toISOString())).toEqual(['2025-10-05T00:01:00.000Z', '2025-10-05T00:02:00.000Z']);
    const runs = h.engine.store.listRuns({ pipeline: 'p' });
    expect(runs.map((r) => [r.id, r.state, r.kind])).toEqual([
      ['p.scheduled__2025-10-05T00:02:00.000Z', 'success', 'cron'],
      ['p.scheduled__2025-10-05T00:01:00.000Z', 'success', 'cron'],
    ]);
    const metrics = await h.registry.getSingleMetricAsString('supervisor_pipeline_runs_total');
    expect(metrics).toContain('supervisor_pipeline_runs_total{pipeline="p",state="success",trigger="cron"} 2');
    const delay = await h.registry.getSingleMetricAsString('supervisor_pipeline_schedule_delay_seconds');
    expect(delay).toContain('supervisor_pipeline_schedule_delay_seconds_count{pipeline="p"} 2');
    await h.close();
  });

  it('overlap skip: ticks while a run is active are skipped and counted', async () => {
    const g = gated();
    const h = harness({ p: { schedule: '* * * * *', overlap: 'skip', tasks: [{ id: 'a', operator: 'command' }] } }, { command: g.op });
    await h.engine.start();
    await h.clock.advance(180_000); // ticks at :01, :02, :03
    expect(g.waiting).toHaveLength(1);
    g.waiting[0]!.resolve();
    await h.clock.flush();
    expect(h.engine.store.listRuns({ pipeline: 'p' })).toHaveLength(1);
    const skipped = await h.registry.getSingleMetricAsString('supervisor_pipeline_skipped_ticks_total');
    expect(skipped).toContain('supervisor_pipeline_skipped_ticks_total{pipeline="p",reason="overlap"} 2');
    await h.close();
  });

  it('overlap buffer_one keeps one pending tick; queue keeps them all', async () => {
    for (const [overlap, expected] of [
      ['buffer_one', 2],
      ['queue', 3],
    ] as const) {
      const g = gated();
      const h = harness({ p: { schedule: '* * * * *', overlap, tasks: [{ id: 'a', operator: 'command' }] } }, { command: g.op });
      await h.engine.start();
      await h.clock.advance(180_000);
      expect(g.waiting).toHaveLength(1);
      for (let i = 0; i < expected; i += 1) {
        g.waiting[i]!.resolve();
        await h.clock.flush();
      }
      expect(g.waiting).toHaveLength(expected);
      expect(h.engine.store.listRuns({ pipeline: 'p', state: 'success' })).toHaveLength(expected);
      await h.close();
    }
  });

  it('one run per logical date: a duplicate trigger returns the existing run; --rerun starts a second one', async () => {
    let calls = 0;
    const h = harness({ p: { tasks: [{ id: 'a', operator: 'command' }] } }, { command: async () => ({ result: (calls += 1) }) });
    await h.engine.start();
    const date = Date.parse('2025-10-05T00:00:00Z');
    const first = await h.engine.trigger('p', { logicalDate: date, conf: { x: 1 } });
    expect(first.created).toBe(true);
    await h.engine.waitForRun(first.runId);
    const dup = await h.engine.trigger('p', { logicalDate: date });
    expect(dup).toMatchObject({ created: false, runId: first.runId, state: 'success' });
    h.triggers.next({ pipeline: 'p', logicalDate: date, kind: 'cron', params: {}, firedAt: h.clock.now() });
    await h.clock.flush();
    expect(calls).toBe(1);
    const again = await h.engine.trigger('p', { logicalDate: date, rerun: true });
    expect(again.created).toBe(true);
    expect(again.runId).not.toBe(first.runId);
    expect((await h.engine.waitForRun(again.runId)).state).toBe('success');
    expect(calls).toBe(2);
    expect(h.engine.store.getRun(first.runId)!.params).toEqual({ x: 1 });
    await h.close();
  });

  it('pipelines are addressed by alias too, and unknown ones are named', async () => {
    const h = harness({ domain_ingestion: { aliases: ['domain_ingestion_dag'], tasks: [{ id: 'a', operator: 'command' }] } }, { command: ok });
    const r = await h.engine.trigger('domain_ingestion_dag');
    expect(r.pipeline).toBe('domain_ingestion');
    await expect(h.engine.trigger('nope')).rejects.toThrow(/no pipeline "nope"/);
    await h.close();
  });

  it('the active-runs gauge counts every queued run, beyond 10,000 too', async () => {
    const h = harness({ p: { tasks: [{ id: 'a', operator: 'command' }] }, q: { tasks: [{ id: 'a', operator: 'command' }] } }, { command: ok });
    const runs = createRunStore(h.db);
    h.db.transaction(() => {
      for (let i = 0; i < 10_050; i++) runs.insertRun({ pipeline: 'p', logicalDate: i * 60_000, kind: 'manual', firedAt: 0, queuedAt: 0 });
    })();
    const text = await h.registry.getSingleMetricAsString('supervisor_pipeline_active_runs');
    expect(text).toContain('supervisor_pipeline_active_runs{pipeline="p",state="queued"} 10050');
    expect(text).toContain('supervisor_pipeline_active_runs{pipeline="q",state="queued"} 0');
    await h.close();
  });

  it('a manual trigger the store refuses says why in its error, not "see the log"', async () => {
    const db = openDatabase({ file: ':memory:' });
    const h = harness({ p: { tasks: [{ id: 'a', operator: 'command' }] } }, { command: ok }, { db });
    db.close();
    const err = await h.engine.trigger('p').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SUP_ERR_CONFLICT' });
    expect((err as Error).message).toMatch(/the trigger of "p" was not accepted: .*database connection is not open/);
    expect((err as Error).message).not.toMatch(/see the log/);
    await h.close();
  });

  it('a gate that is closed records the tick as a skipped run with its reason', async () => {
    const h = harness({ p: { schedule: '* * * * *', tasks: [{ id: 'a', operator: 'command' }], gate: { kafka_healthy: true } } }, { command: ok });
    await h.engine.start(); // no Kafka configured: the gate stays closed
    await h.clock.advance(30_000);
    await h.clock.flush();
    const [run] = h.engine.store.listRuns({ pipeline: 'p' });
    expect(run).toMatchObject({ state: 'skipped', kind: 'cron' });
    expect(run!.reason).toMatch(/gate: Kafka is unhealthy \(no Kafka connection configured\)/);
    expect(await h.registry.getSingleMetricAsString('supervisor_pipeline_skipped_ticks_total')).toContain('reason="gate"} 1');
    await h.close();
  });

  it('crash recovery: a run left running by a dead process resumes under the same id and its task is retried', async () => {
    const db = openDatabase({ file: ':memory:' });
    const store = createRunStore(db);
    const date = Date.parse('2025-10-05T00:00:00Z');
    const { run } = store.insertRun({ pipeline: 'p', logicalDate: date, kind: 'cron', firedAt: date, queuedAt: date });
    store.claimRun(run.id, 999_999_999, date); // a pid that does not exist
    store.upsertTask({
      runId: run.id,
      taskId: 'a',
      state: 'success',
      tryNumber: 1,
      maxTries: 1,
      startedAt: date,
      endedAt: date,
      nextTryAt: null,
      pid: null,
      result: null,
      reason: null,
    });
    store.upsertTask({
      runId: run.id,
      taskId: 'b',
      state: 'running',
      tryNumber: 1,
      maxTries: 3,
      startedAt: date,
      endedAt: null,
      nextTryAt: null,
      pid: null,
      result: null,
      reason: null,
    });
    store.startAttempt({ runId: run.id, taskId: 'b', tryNumber: 1, startedAt: date });
    const calls: string[] = [];
    const op: Operator = async (ctx) => {
      calls.push(`${ctx.taskId}#${ctx.tryNumber}`);
      return {};
    };
    const h = harness(
      {
        p: {
          tasks: [
            { id: 'a', operator: 'command' },
            { id: 'b', operator: 'command', upstream: ['a'], retries: 2 },
          ],
        },
      },
      { command: op },
      { db },
    );
    await h.engine.start();
    const done = await h.engine.waitForRun(run.id);
    expect(done.state).toBe('success');
    expect(calls).toEqual(['b#2']);
    expect(store.listRuns({ pipeline: 'p' })).toHaveLength(1);
    const attempts = store.listAttempts(run.id, 'b');
    expect(attempts.map((a) => a.state)).toEqual(['failed', 'success']);
    expect(attempts[0]!.error).toMatch(/orphaned/);
    await h.close();
    db.close();
  });

  it('crash recovery: an attempt that finished while the supervisor was down (wrapper status 0) is not run again', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { attemptStatusFile } = await import('../../../src/engine/subprocess');
    const statusDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-status-'));
    const db = openDatabase({ file: ':memory:' });
    const store = createRunStore(db);
    const date = Date.parse('2025-10-05T00:00:00Z');
    const { run } = store.insertRun({ pipeline: 'p', logicalDate: date, kind: 'cron', firedAt: date, queuedAt: date });
    store.claimRun(run.id, 999_999_999, date);
    store.upsertTask({
      runId: run.id,
      taskId: 'ingest',
      state: 'running',
      tryNumber: 1,
      maxTries: 3,
      startedAt: date,
      endedAt: null,
      nextTryAt: null,
      pid: null,
      result: null,
      reason: null,
    });
    store.startAttempt({ runId: run.id, taskId: 'ingest', tryNumber: 1, startedAt: date });
    const file = attemptStatusFile(statusDir, run.id, 'ingest', 1);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ code: 0, signal: null, lastJson: { ok: true, records: 7 }, endedAt: date + 5 }));
    const calls: string[] = [];
    const op: Operator = async (ctx) => {
      calls.push(ctx.taskId);
      return {};
    };
    const clock = createFakeClock();
    const engine = createEngine({
      config: loaded({
        p: {
          tasks: [
            { id: 'ingest', operator: 'command', retries: 2 },
            { id: 'notify', operator: 'command', upstream: ['ingest'] },
          ],
        },
      }),
      db,
      clock,
      logger: silentLogger,
      operators: { command: op },
      statusDir,
      pollIntervalMs: 60_000,
    });
    await engine.start();
    const done = await engine.waitForRun(run.id);
    expect(done.state).toBe('success');
    expect(calls).toEqual(['notify']);
    expect(store.getTask(run.id, 'ingest')).toMatchObject({ state: 'success', tryNumber: 1, result: { ok: true, records: 7 } });
    await engine.close();
    db.close();
    fs.rmSync(statusDir, { recursive: true, force: true });
  });

  it('catchup enqueues the ticks missed since the last scheduled run when enabled', async () => {
    const db = openDatabase({ file: ':memory:' });
    const store = createRunStore(db);
    const last = Date.parse('2025-10-04T21:00:00Z');
    store.insertRun({ pipeline: 'p', logicalDate: last, kind: 'cron', firedAt: last, queuedAt: last, state: 'success' });
    const dates: string[] = [];
    const op: Operator = async (ctx) => {
      dates.push(new Date(ctx.logicalDate).toISOString());
      return {};
    };
    const h = harness({ p: { schedule: '0 * * * *', catchup: true, tasks: [{ id: 'a', operator: 'command' }] } }, { command: op }, { db });
    await h.engine.start();
    await h.clock.flush();
    expect(dates).toEqual(['2025-10-04T22:00:00.000Z', '2025-10-04T23:00:00.000Z', '2025-10-05T00:00:00.000Z']);
    await h.close();
    db.close();
  });

  it('backfill: dry run plans, reprocess failed re-runs failed dates only, respects max active', async () => {
    const g = gated();
    const h = harness({ p: { schedule: '0 0 * * *', tasks: [{ id: 'a', operator: 'command' }] } }, { command: g.op }, { schedule: false });
    await h.engine.start();
    const store = h.engine.store;
    const d = (s: string) => Date.parse(`${s}T00:00:00Z`);
    store.insertRun({ pipeline: 'p', logicalDate: d('2025-10-02'), kind: 'cron', firedAt: 0, queuedAt: 0, state: 'success' });
    store.insertRun({ pipeline: 'p', logicalDate: d('2025-10-03'), kind: 'cron', firedAt: 0, queuedAt: 0, state: 'failed' });
    const dry = await h.engine.backfill('p', { startDate: d('2025-10-01'), endDate: d('2025-10-05'), dryRun: true, reprocess: 'failed' });
    expect(dry.plan.map((p) => p.action)).toEqual(['run', 'skip', 'rerun', 'run', 'run']);
    expect(store.listRuns({ pipeline: 'p' })).toHaveLength(2);

    const progress: number[] = [];
    const done = h.engine.backfill('p', { startDate: d('2025-10-01'), endDate: d('2025-10-05'), reprocess: 'failed', maxActive: 2, onProgress: (p) => progress.push(p.done) });
    await h.clock.flush();
    expect(g.waiting).toHaveLength(2);
    while (g.waiting.some((w) => w)) {
      const next = g.waiting.shift();
      if (!next) break;
      next.resolve();
      await h.clock.flush();
    }
    const summary = await done;
    expect(summary.counts).toMatchObject({ total: 5, run: 3, rerun: 1, skippedExisting: 1, success: 4, failed: 0 });
    expect(progress).toEqual([0, 1, 2, 3, 4]);
    expect(summary.runs.map((r) => new Date(r.logicalDate).toISOString().slice(0, 10))).toEqual(['2025-10-01', '2025-10-03', '2025-10-04', '2025-10-05']);
    await h.close();
  });

  it('tasks test runs one task without its upstream and does not hold the logical date', async () => {
    const calls: string[] = [];
    const op: Operator = async (ctx) => {
      calls.push(ctx.taskId);
      return {};
    };
    const h = harness(
      {
        p: {
          tasks: [
            { id: 'a', operator: 'command' },
            { id: 'b', operator: 'command', upstream: ['a'] },
          ],
        },
      },
      { command: op },
      { schedule: false },
    );
    const date = Date.parse('2025-10-05T00:00:00Z');
    const r = await h.engine.testTask('p', 'b', date);
    expect(r.state).toBe('success');
    expect(r.kind).toBe('test');
    expect(calls).toEqual(['b']);
    expect(h.engine.store.findRun('p', date)).toBeNull();
    await expect(h.engine.testTask('p', 'zz', date)).rejects.toThrow(/has no task "zz"/);
    await h.close();
  });

  it('close() interrupts running work, queues it again and is idempotent', async () => {
    const g = gated();
    const h = harness({ p: { tasks: [{ id: 'a', operator: 'command', retries: 1 }] } }, { command: g.op });
    await h.engine.start();
    const r = await h.engine.trigger('p');
    await h.clock.flush();
    expect(g.waiting).toHaveLength(1);
    await Promise.all([h.engine.close(), h.engine.close()]);
    expect(h.engine.store.getRun(r.runId)!.state).toBe('queued');
    await h.close();
  });
});
