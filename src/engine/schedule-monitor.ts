/**
 * The schedule monitor: deadlines and missed schedule ticks, judged from the run store, the
 * pipeline-state store (paused, first seen, last unpause) and the pipelines' cron schedules —
 * not from the engine's memory, so what happened while the daemon was down is seen on the
 * first evaluation after a start. Pure logic over those stores and a clock; the root runs it as
 * two extra probes of the `checks` component (src/wiring/signal-source.ts), so its signals take
 * the same path as every check: state$ → gauges, /api/v1/health → the alert engine.
 *
 * - `pipeline_deadline` (one signal per pipeline with a `deadline`): the logical dates in the
 *   window that are past their deadline (logical date, or the run's queued time, + `after`)
 *   without a successful run → `crit`, naming the dates and why (no run at all, skipped by its
 *   gate, queued behind another run, running, failed, timed out, cancelled). `ok` when every
 *   due date has a success, and `ok` with "paused" while the pipeline is paused.
 * - `pipeline_schedule` (one signal per pipeline with a cron schedule): cron ticks in the window
 *   with no run row at all (any kind, reruns and backfills included) and no later successful
 *   run → `warn`, naming the ticks and the likely cause (the supervisor was down; a run was
 *   still active, i.e. the overlap policy skipped it; otherwise a clock jump).
 *
 * The window of logical dates is (max(now − lookback, first seen, last unpause, first run), now]:
 * ticks before the store first saw the pipeline, before its first run, or while it was paused,
 * do not count. Expected dates are the cron ticks (croner through streams/cron.ts, as the engine
 * computes them: time zones, DST) plus the logical dates of the pipeline's other runs (manual,
 * backfill, Kafka triggers; `test` runs are detached and never count). At most `maxTicks` ticks
 * (the newest) are judged.
 *
 * Counters count each logical date once per process (the keys counted are remembered, bounded).
 */
import type { Cron } from 'croner';
import type { CheckProbe, DeadlineMiss, DeadlineMissReason, MissedTick, MissedTickCause, PipelineDeadlineFacts, PipelineScheduleFacts, Signal } from '../protocol';
import { compileSchedule, nextTick, ticksBetween } from '../../streams/cron';
import { formatDuration } from '../shared/duration';
import type { PipelineStateStore } from '../store/pipeline-state';
import type { RunRecord, RunStore } from '../store/runs';
import type { PipelineCatalog, PipelineSpec } from './dag';

/** What the monitor reports as it finds it (src/metrics/schedule-monitor.ts). */
export interface ScheduleMonitorMetrics {
  /** Logical dates that newly passed their deadline without a success. */
  deadlineMissed(pipeline: string, count: number): void;
  /** Cron ticks newly found without a run. */
  scheduleMissed(pipeline: string, count: number): void;
}

export interface ScheduleMonitorParams {
  catalog: Pick<PipelineCatalog, 'list'>;
  runs: Pick<RunStore, 'listRuns'>;
  /**
   * `ensure` is the engine's own idempotent call (src/engine/operations.ts); the monitor makes it
   * too once the engine has started, should nothing have. A pipeline the store has not seen yet is
   * not judged.
   */
  pipelineState: Pick<PipelineStateStore, 'get' | 'ensure'>;
  now(): number;
  metrics?: ScheduleMonitorMetrics;
  /** Epoch ms this process started: ticks before it (and `startupGraceMs` after) are put down to the supervisor being down. Default: now at creation. */
  startedAt?: number;
  /** True once the engine has started (its catchup then has created the runs of missed ticks of `catchup: true` pipelines). Default: always. */
  engineStarted?: () => boolean;
  /** A tick is missed only this long after it without a run row. Default 30 s. */
  missedGraceMs?: number;
  /** Ticks up to this long after `startedAt` count as the supervisor being down (it was still starting). Default 10 s. */
  startupGraceMs?: number;
  /** Newest ticks judged per pipeline and evaluation (a minutely schedule: the last ≈ 8 h). Default 500. */
  maxTicks?: number;
  /** Lookback of the missed-schedule window of pipelines without a deadline. Default 24 h. */
  defaultLookbackMs?: number;
  /** Probe interval. Default 5 s. */
  intervalMs?: number;
}

/** The check names (and kinds) of the monitor's probes. */
export const DEADLINE_CHECK = 'pipeline_deadline';
export const SCHEDULE_CHECK = 'pipeline_schedule';

/** Dates listed in a summary (all of them are counted, and up to FACTS_LIMIT are in the facts). */
const SUMMARY_LIMIT = 3;
const FACTS_LIMIT = 20;
/** Counted (pipeline, date) keys remembered per counter. */
const COUNTED_LIMIT = 10_000;
/** Runs read per pipeline and evaluation. */
const RUNS_LIMIT = 5_000;

export interface ScheduleMonitor {
  /** One `pipeline_deadline` signal per pipeline with a deadline (`observedAt`/`durationMs` are stamped by the scheduler). */
  evaluateDeadlines(): Signal[];
  /** One `pipeline_schedule` signal per pipeline with a cron schedule. */
  evaluateSchedules(): Signal[];
  /** Logical dates currently past their deadline, per pipeline (the latest evaluation). */
  overdue(): ReadonlyMap<string, number>;
  /** The probes to schedule (none for a kind without a pipeline to judge). */
  probes(): CheckProbe[];
}

export function createScheduleMonitor(params: ScheduleMonitorParams): ScheduleMonitor {
  return new Monitor(params);
}

type Judged = { quiet: string; paused: boolean; start: number } | { quiet: null; paused: boolean; start: number; runs: RunRecord[] };

const iso = (ms: number): string => new Date(ms).toISOString();

class Monitor implements ScheduleMonitor {
  private readonly params: ScheduleMonitorParams;
  private readonly startedAt: number;
  private readonly crons = new Map<string, Cron>();
  private readonly tickCaches = new Map<string, TickCache>();
  private readonly countedMisses = new BoundedSet(COUNTED_LIMIT);
  private readonly countedTicks = new BoundedSet(COUNTED_LIMIT);
  private readonly overdueNow = new Map<string, number>();
  private ensured = false;

  constructor(params: ScheduleMonitorParams) {
    this.params = params;
    this.startedAt = params.startedAt ?? params.now();
    for (const spec of params.catalog.list()) {
      if (spec.schedule) this.crons.set(spec.id, compileSchedule(spec.schedule, spec.timezone, `pipelines.${spec.id}.schedule`));
    }
  }

  overdue(): ReadonlyMap<string, number> {
    return this.overdueNow;
  }

  evaluateDeadlines(): Signal[] {
    return [...this.deadlineSignals()];
  }

  evaluateSchedules(): Signal[] {
    return [...this.scheduleSignals()];
  }

  probes(): CheckProbe[] {
    const specs = this.params.catalog.list();
    const intervalMs = this.params.intervalMs ?? 5_000;
    const out: CheckProbe[] = [];
    if (specs.some((s) => s.deadline)) {
      out.push({ name: DEADLINE_CHECK, kind: 'pipeline_deadline', intervalMs, timeoutMs: Math.max(intervalMs, 5_000), probe: () => drain(this.deadlineSignals()) });
    }
    if (specs.some((s) => s.schedule)) {
      out.push({ name: SCHEDULE_CHECK, kind: 'pipeline_schedule', intervalMs, timeoutMs: Math.max(intervalMs, 5_000), probe: () => drain(this.scheduleSignals()) });
    }
    return out;
  }

  /** One signal per pipeline, one at a time (the probe yields to the event loop between them). */
  private *deadlineSignals(): Generator<Signal> {
    const now = this.params.now();
    this.ensure(now);
    for (const spec of this.params.catalog.list()) {
      const deadline = spec.deadline;
      if (!deadline) continue;
      const judged = this.judge(spec, deadline.lookbackMs, now);
      const base = { afterSeconds: deadline.afterMs / 1000, from: deadline.from, paused: judged.paused, windowStart: judged.start };
      if (judged.quiet !== null) {
        this.overdueNow.set(spec.id, 0);
        yield this.signal(spec, 'pipeline_deadline', 'ok', 0, judged.quiet, { kind: 'pipeline_deadline', pipeline: spec.id, ...base, overdueCount: 0, overdue: [] });
        continue;
      }
      const { runs, start } = judged;
      const byDate = groupByDate(runs);
      const dates = new Set<number>(this.ticks(spec.id, start, now));
      for (const d of byDate.keys()) dates.add(d);
      const running = runs.filter((r) => r.state === 'running');
      const misses: DeadlineMiss[] = [];
      for (const date of [...dates].sort((a, b) => a - b)) {
        const of = byDate.get(date) ?? [];
        if (of.some((r) => r.state === 'success')) continue;
        const first = of.length > 0 ? Math.min(...of.map((r) => r.queuedAt)) : null;
        const dueAt = (deadline.from === 'queued_at' && first !== null ? first : date) + deadline.afterMs;
        if (dueAt > now) continue;
        misses.push(this.explain(date, dueAt, of, running));
      }
      let fresh = 0;
      for (const m of misses) if (this.countedMisses.add(`${spec.id}@${m.logicalDate}`)) fresh += 1;
      if (fresh > 0) this.params.metrics?.deadlineMissed(spec.id, fresh);
      this.overdueNow.set(spec.id, misses.length);
      const after = formatDuration(deadline.afterMs);
      const since = deadline.from === 'queued_at' ? 'being queued' : 'its logical date';
      const summary =
        misses.length === 0
          ? `pipeline ${spec.id}: every run due since ${iso(start)} succeeded within ${after} of ${since}`
          : `pipeline ${spec.id}: ${misses.length} run${misses.length === 1 ? '' : 's'} not succeeded ${after} after ${since}: ${listed(misses.map((m) => `${iso(m.logicalDate)} ${m.detail}`))}`;
      const facts: PipelineDeadlineFacts = { kind: 'pipeline_deadline', pipeline: spec.id, ...base, overdueCount: misses.length, overdue: misses.slice(0, FACTS_LIMIT) };
      yield this.signal(spec, 'pipeline_deadline', misses.length > 0 ? 'crit' : 'ok', misses.length, summary, facts);
    }
  }

  /** One signal per pipeline, one at a time (the probe yields to the event loop between them). */
  private *scheduleSignals(): Generator<Signal> {
    const now = this.params.now();
    this.ensure(now);
    const grace = this.params.missedGraceMs ?? 30_000;
    const startupGrace = this.params.startupGraceMs ?? 10_000;
    const engineStarted = this.params.engineStarted?.() ?? true;
    for (const spec of this.params.catalog.list()) {
      if (!spec.schedule) continue;
      const lookback = spec.deadline?.lookbackMs ?? this.params.defaultLookbackMs ?? 86_400_000;
      const judged = this.judge(spec, lookback, now);
      const base = { kind: 'pipeline_schedule' as const, pipeline: spec.id, paused: judged.paused, windowStart: judged.start };
      if (judged.quiet !== null) {
        yield this.signal(spec, 'pipeline_schedule', 'ok', 0, judged.quiet, { ...base, missedCount: 0, missed: [] });
        continue;
      }
      const { runs, start } = judged;
      const byDate = groupByDate(runs);
      const lastSuccess = Math.max(-Infinity, ...runs.filter((r) => r.state === 'success').map((r) => r.logicalDate));
      const missed: MissedTick[] = [];
      const counted: number[] = [];
      for (const tick of this.ticks(spec.id, start, now)) {
        if (byDate.has(tick)) continue;
        const downAtTick = tick < this.startedAt + startupGrace;
        // a tick of this process's uptime may still be on its way to a run (a gate evaluation): wait the grace
        if (!downAtTick && tick > now - grace) continue;
        // the engine's catchup creates the runs of ticks missed while down, once it has started
        if (downAtTick && spec.catchup && !engineStarted) continue;
        counted.push(tick);
        // a later success puts the schedule back on track: the tick stays counted, the signal clears
        if (lastSuccess > tick) continue;
        missed.push({ tick, cause: activeAt(runs, tick) ? 'overlap' : downAtTick ? 'daemon_down' : 'clock_jump' });
      }
      let fresh = 0;
      for (const tick of counted) if (this.countedTicks.add(`${spec.id}@${tick}`)) fresh += 1;
      if (fresh > 0) this.params.metrics?.scheduleMissed(spec.id, fresh);
      const summary =
        missed.length === 0
          ? `pipeline ${spec.id}: every schedule tick since ${iso(start)} produced a run`
          : `pipeline ${spec.id}: ${missed.length} schedule tick${missed.length === 1 ? '' : 's'} produced no run: ${describeMissed(missed)}`;
      yield this.signal(spec, 'pipeline_schedule', missed.length > 0 ? 'warn' : 'ok', missed.length, summary, {
        ...base,
        missedCount: missed.length,
        missed: missed.slice(0, FACTS_LIMIT),
      });
    }
  }

  /** The engine makes the same call at its start; once it has started, this records the pipelines it has not (idempotent). */
  private ensure(now: number): void {
    if (this.ensured || !(this.params.engineStarted?.() ?? true)) return;
    this.params.pipelineState.ensure(
      this.params.catalog.list().map((s) => ({ id: s.id, paused: s.paused })),
      now,
    );
    this.ensured = true;
  }

  /**
   * The window of logical dates judged and the pipeline's runs in it, or why nothing is judged
   * (`quiet`: not seen yet, paused, never run). Ticks before the pipeline's first run do not
   * count: a store that knew the pipeline (the CLI records it too) before any daemon ran it has
   * nothing to report for that time.
   */
  private judge(spec: PipelineSpec, lookbackMs: number, now: number): Judged {
    const state = this.params.pipelineState.get(spec.id);
    const paused = state ? state.paused : spec.paused;
    if (!state || paused) return { quiet: paused ? `pipeline ${spec.id} is paused` : `pipeline ${spec.id} is not scheduled yet (the engine has not started)`, paused, start: now };
    let start = Math.max(now - lookbackMs, state.firstSeenAt, state.unpausedAt ?? -Infinity);
    const runs = this.runsIn(spec.id, start, now);
    if (this.params.runs.listRuns({ pipeline: spec.id, to: start, limit: 1 }).length === 0) {
      if (runs.length === 0) return { quiet: `pipeline ${spec.id} has not run yet`, paused, start };
      start = Math.max(start, Math.min(...runs.map((r) => r.logicalDate)) - 1);
    }
    return { quiet: null, paused, start, runs };
  }

  /** Ticks in (from, to], the newest `maxTicks` of them (cached per pipeline, shared by both probes: croner in a time zone costs ≈ 0.1 ms a tick). */
  private ticks(pipeline: string, from: number, to: number): number[] {
    const key = pipeline;
    let cache = this.tickCaches.get(key);
    if (!cache) {
      const cron = this.crons.get(pipeline);
      if (!cron) return [];
      cache = new TickCache(cron, this.params.maxTicks ?? 500);
      this.tickCaches.set(key, cache);
    }
    return cache.get(from, to);
  }

  /** The pipeline's runs with a logical date in (from, to] (`test` runs never count). */
  private runsIn(pipeline: string, from: number, to: number): RunRecord[] {
    return this.params.runs.listRuns({ pipeline, from: from + 1, to, limit: RUNS_LIMIT }).filter((r) => r.kind !== 'test');
  }

  private explain(date: number, dueAt: number, of: readonly RunRecord[], running: readonly RunRecord[]): DeadlineMiss {
    const miss = (reason: DeadlineMissReason, runId: string | null, detail: string): DeadlineMiss => ({ logicalDate: date, dueAt, reason, runId, detail });
    if (of.length === 0) {
      return date < this.startedAt
        ? miss('no_run', null, 'has no run: the supervisor was not running then (or did not fire the tick)')
        : miss('no_run', null, 'has no run (the tick was skipped: a run was still active, or the clock jumped)');
    }
    const run = [...of].sort((a, b) => b.queuedAt - a.queuedAt)[0]!;
    const why = run.reason ? `: ${run.reason}` : '';
    switch (run.state) {
      case 'skipped':
        return run.reason?.startsWith('gate:') ? miss('gated', run.id, `was skipped by its gate (${run.reason})`) : miss('skipped', run.id, `was skipped${why}`);
      case 'queued': {
        const blocking = running.find((r) => r.id !== run.id);
        return blocking
          ? miss('queued_behind_overlap', run.id, `is queued behind run ${blocking.id} (never started)`)
          : miss('queued', run.id, `is queued since ${iso(run.queuedAt)} (never started)`);
      }
      case 'running':
        return miss('running', run.id, `is still running (started ${run.startedAt !== null ? iso(run.startedAt) : 'at an unknown time'})`);
      case 'failed':
        return miss('failed', run.id, `failed${why}`);
      case 'timed_out':
        return miss('timed_out', run.id, `timed out${why}`);
      case 'cancelled':
        return miss('cancelled', run.id, `was cancelled${why}`);
      case 'success':
        // unreachable (a success is never a miss); kept so the switch covers every state
        return miss('running', run.id, 'succeeded');
    }
  }

  private signal(
    spec: PipelineSpec,
    kind: 'pipeline_deadline' | 'pipeline_schedule',
    status: Signal['status'],
    value: number,
    summary: string,
    facts: PipelineDeadlineFacts | PipelineScheduleFacts,
  ): Signal {
    return {
      check: kind === 'pipeline_deadline' ? DEADLINE_CHECK : SCHEDULE_CHECK,
      kind,
      target: spec.id,
      labels: { pipeline: spec.id },
      status,
      value,
      unit: 'count',
      threshold: 0,
      observedAt: this.params.now(),
      durationMs: 0,
      summary,
      facts,
    };
  }
}

/** Collects the signals, yielding to the event loop between pipelines (a first evaluation over many time-zone schedules takes a while). */
async function drain(signals: Iterator<Signal>): Promise<Signal[]> {
  const out: Signal[] = [];
  for (let r = signals.next(); !r.done; r = signals.next()) {
    out.push(r.value);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}

function groupByDate(runs: readonly RunRecord[]): Map<number, RunRecord[]> {
  const out = new Map<number, RunRecord[]>();
  for (const r of runs) {
    const list = out.get(r.logicalDate);
    if (list) list.push(r);
    else out.set(r.logicalDate, [r]);
  }
  return out;
}

/** A run of the pipeline was queued or running at `at` (the overlap policy skips ticks then). */
function activeAt(runs: readonly RunRecord[], at: number): boolean {
  return runs.some((r) => r.state !== 'skipped' && r.queuedAt <= at && (r.endedAt === null || r.endedAt > at));
}

function listed(items: readonly string[]): string {
  const shown = items.slice(0, SUMMARY_LIMIT).join('; ');
  return items.length > SUMMARY_LIMIT ? `${shown}; and ${items.length - SUMMARY_LIMIT} more` : shown;
}

const CAUSES: Record<MissedTickCause, string> = {
  daemon_down: 'the supervisor was not running',
  overlap: 'a run was still active (overlap policy)',
  clock_jump: 'no run was active: the clock jumped, or the scheduler fell behind',
};

function describeMissed(missed: readonly MissedTick[]): string {
  const parts: string[] = [];
  for (const cause of Object.keys(CAUSES) as MissedTickCause[]) {
    const ticks = missed.filter((m) => m.cause === cause).map((m) => iso(m.tick));
    if (ticks.length > 0) parts.push(`${listed(ticks)} (${CAUSES[cause]})`);
  }
  return parts.join('; ');
}

/**
 * The ticks of one schedule in a window that only moves forward (its start and end follow the
 * clock): each call drops the ticks that left the window and computes only the new ones (the
 * next tick after the window is kept, so a call with no new tick asks croner nothing). A window
 * that moved back (the clock stepped back) or jumped by more than `max` ticks is computed afresh.
 */
class TickCache {
  private from = Number.NaN;
  private to = Number.NaN;
  private ticks: number[] = [];
  /** The first tick after `to` (null: the schedule has no further tick). */
  private next: number | null = null;

  constructor(
    private readonly cron: Cron,
    private readonly max: number,
  ) {}

  get(from: number, to: number): number[] {
    if (to <= from) return [];
    if (from >= this.from && to >= this.to) {
      const added: number[] = [];
      while (this.next !== null && this.next <= to && added.length < this.max) {
        added.push(this.next);
        this.next = nextTick(this.cron, this.next);
      }
      if (added.length < this.max) {
        this.ticks = (this.from === from && added.length === 0 ? this.ticks : [...this.ticks.filter((t) => t > from), ...added]).slice(-this.max);
        this.from = from;
        this.to = to;
        return this.ticks;
      }
    }
    this.ticks = newestTicks(this.cron, from, to, this.max);
    this.next = nextTick(this.cron, to);
    this.from = from;
    this.to = to;
    return this.ticks;
  }
}

/** Ticks in (from, to], the newest `max` of them (about `max` for a schedule of uneven spacing). */
function newestTicks(cron: Cron, from: number, to: number, max: number): number[] {
  const sample = ticksBetween(cron, from, to, Math.min(max, 50));
  if (sample.length < Math.min(max, 50)) return sample;
  // a dense schedule: start about `max` average spacings before `to` instead of walking from `from`
  const spacing = (sample.at(-1)! - sample[0]!) / (sample.length - 1);
  const start = Math.max(from, Math.floor(to - spacing * (max - 0.5)));
  return ticksBetween(cron, start, to, max * 2).slice(-max);
}

/** Insertion-ordered set that forgets its oldest keys beyond `limit`. */
class BoundedSet {
  private readonly keys = new Set<string>();
  constructor(private readonly limit: number) {}

  /** True when the key is new. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.limit) {
      const oldest = this.keys.values().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
    return true;
  }
}
