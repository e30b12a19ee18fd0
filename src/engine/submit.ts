/**
 * Submit: a trigger becomes a queued run, a skipped run (the trigger carries a skip reason,
 * e.g. a closed gate), nothing (an automatic tick under the overlap policy) or the existing run
 * of its logical date (deduplicated).
 */
import type { Clock, Logger, RunEvent, Trigger, TriggerKind } from '../protocol';
import { makeRunId, type NewRun, type RunStore } from '../store/runs';
import type { PipelineCatalog, PipelineSpec } from './dag';
import type { BegunRun, RunPlan } from './runner';
import { summarizeRun, type RunSummary } from './run-summary';

/** Trigger kinds the overlap policy applies to. */
export const AUTOMATIC_KINDS: ReadonlySet<TriggerKind> = new Set(['cron', 'lag', 'offsets']);

export interface SubmitParams {
  store: RunStore;
  catalog: Pick<PipelineCatalog, 'get'>;
  clock: Clock;
  logger: Logger;
  emit(e: RunEvent): void;
  skippedTick(pipeline: string, reason: 'overlap' | 'paused'): void;
  /** A run was created queued: the engine remembers it as its own (before its event). */
  onCreated(runId: string): void;
  /** Start queued runs with room (after the queued event). */
  dispatch(): void;
  /** Runs the writes of an automatic trigger (schedule, event, catchup) fenced by the leader's epoch (src/wiring/leadership.ts). */
  fence?: <T>(write: () => T) => T;
  /**
   * A scheduling daemon: an automatic trigger's run is claimed in the (fenced) transaction that
   * creates it when its pipeline has a free slot and nothing queued, and its first tries are
   * begun there (`plan`, src/engine/runner.ts planRun: the rows go with the statement creating
   * the run, written only when it creates it claimed); `execute` runs it after the commit.
   * Without it, or when the run must wait, the run is queued and `dispatch` claims it.
   */
  start?: {
    pid: number;
    owner: string;
    now(): number;
    /** The first writes of the run, planned before it exists (src/engine/runner.ts planRun). */
    plan(spec: PipelineSpec, runId: string, now: number): RunPlan;
    execute(spec: PipelineSpec, begun: BegunRun): void;
  };
}

export interface SubmitOptions {
  /** Manual triggers and catchup ticks ignore the overlap policy. */
  bypassOverlap?: boolean;
  /** With `start`: create no run while the pipeline is paused, checked in the statement creating it (the caller did not check). */
  skipPaused?: boolean;
}

/** Runs an automatic trigger may have active (queued or running) under the overlap policy. */
export function overlapRoom(spec: Pick<PipelineSpec, 'overlap' | 'maxActiveRuns'>): number {
  return spec.overlap === 'skip' ? spec.maxActiveRuns : spec.overlap === 'buffer_one' ? spec.maxActiveRuns + 1 : 1000;
}

/** Throws on an unknown pipeline or a store failure; the caller decides whether to rethrow. */
export function submitTrigger(params: SubmitParams, trigger: Trigger, options: SubmitOptions = {}): RunSummary | null {
  const { store, logger } = params;
  const spec = params.catalog.get(trigger.pipeline);
  const now = params.clock.now();
  // runs created by schedules and event triggers are the leader's: fenced by its epoch (manual ones are not)
  const fence = params.fence && AUTOMATIC_KINDS.has(trigger.kind) ? params.fence : <T>(write: () => T): T => write();
  const row: NewRun = { pipeline: spec.id, logicalDate: trigger.logicalDate, kind: trigger.kind, params: { ...trigger.params }, firedAt: trigger.firedAt, queuedAt: now };
  if (trigger.skipReason !== undefined) {
    const { run, created } = fence(() => {
      const inserted = store.insertRun({ ...row, state: 'skipped', reason: trigger.skipReason });
      if (inserted.created) store.updateRun(inserted.run.id, { endedAt: now });
      return inserted;
    });
    if (created) {
      logger.info({ pipeline: spec.id, logicalDate: new Date(trigger.logicalDate).toISOString(), reason: trigger.skipReason }, 'run skipped');
      params.emit({
        type: 'run',
        runId: run.id,
        pipeline: spec.id,
        logicalDate: run.logicalDate,
        trigger: run.kind,
        state: 'skipped',
        at: now,
        firedAt: trigger.firedAt,
        reason: trigger.skipReason,
      });
    }
    return summarizeRun(store, store.getRun(run.id)!, created);
  }
  if (params.start && AUTOMATIC_KINDS.has(trigger.kind) && !trigger.rerun) {
    const start = params.start;
    const claimedAt = start.now();
    const id = makeRunId(spec.id, trigger.kind, trigger.logicalDate);
    const plan = start.plan(spec, id, claimedAt);
    // one transaction, on PostgreSQL one statement sent with the COMMIT (one round trip): the run
    // (claimed when it can start) with its first tries, or why not; the outcome read after the commit
    const answer = fence(() =>
      store.atomically(() =>
        store.scheduleFirst(
          { ...row, id },
          {
            room: options.bypassOverlap ? null : overlapRoom(spec),
            claim: { maxActive: spec.maxActiveRuns, pid: start.pid, owner: start.owner, now: claimedAt },
            ...(options.skipPaused ? { skipPaused: true } : {}),
          },
          plan,
        ),
      ),
    );
    const out = answer();
    const begun: BegunRun | undefined = out.outcome === 'created' && out.claimed ? { run: out.run, tasks: plan.tasks, started: plan.started } : undefined;
    if (out.outcome === 'exists') return summarizeRun(store, out.run, false);
    if (out.outcome === 'paused') {
      params.skippedTick(spec.id, 'paused');
      logger.debug({ pipeline: spec.id, kind: trigger.kind }, 'trigger dropped: the pipeline is paused');
      return null;
    }
    if (out.outcome === 'no_room') {
      params.skippedTick(spec.id, 'overlap');
      logger.info(
        { pipeline: spec.id, logicalDate: new Date(trigger.logicalDate).toISOString(), overlap: spec.overlap, active: out.active },
        'tick skipped: a run is still active',
      );
      return null;
    }
    const run = out.run;
    params.onCreated(run.id);
    params.emit({ type: 'run', runId: run.id, pipeline: spec.id, logicalDate: run.logicalDate, trigger: run.kind, state: 'queued', at: now, firedAt: trigger.firedAt });
    if (begun) start.execute(spec, begun);
    else params.dispatch();
    // begun: its rows are the ones just written (no read after the commit)
    return begun ? summarizeRun(store, begun.run, true, begun.tasks) : summarizeRun(store, store.getRun(run.id)!, true);
  }
  if (AUTOMATIC_KINDS.has(trigger.kind) && !options.bypassOverlap && !trigger.rerun) {
    const existing = store.findRun(spec.id, trigger.logicalDate);
    if (existing) return summarizeRun(store, existing, false);
    const active = store.countRuns(spec.id, ['running', 'queued']);
    if (active >= overlapRoom(spec)) {
      params.skippedTick(spec.id, 'overlap');
      logger.info({ pipeline: spec.id, logicalDate: new Date(trigger.logicalDate).toISOString(), overlap: spec.overlap, active }, 'tick skipped: a run is still active');
      return null;
    }
  }
  const { run, created } = fence(() => store.insertRun({ ...row, rerun: trigger.rerun === true, detached: trigger.kind === 'test' }));
  if (!created) {
    logger.info({ pipeline: spec.id, run: run.id, state: run.state }, 'a run for this logical date exists; not starting another (use --rerun)');
    return summarizeRun(store, run, false);
  }
  params.onCreated(run.id);
  params.emit({ type: 'run', runId: run.id, pipeline: spec.id, logicalDate: run.logicalDate, trigger: run.kind, state: 'queued', at: now, firedAt: trigger.firedAt });
  params.dispatch();
  return summarizeRun(store, store.getRun(run.id)!, true);
}
