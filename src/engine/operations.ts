/**
 * Operations on pipelines, runs and tasks, the way an Airflow operator works: pause and
 * unpause a pipeline, cancel a run, clear tasks of a run (Airflow's "clear"), mark a run or a
 * task success or failed. Every operation is a store transaction plus an audit entry, so the
 * CLI (another process) and the API (the daemon) do exactly the same thing:
 *
 * - a queued run is changed directly (an atomic state transition, so a dispatcher claiming it
 *   at the same moment either wins or loses cleanly);
 * - a running run is changed by its executing process: the operation writes the request
 *   (`requested_state`) and that process aborts the run's tasks (SIGTERM to their process
 *   groups, SIGKILL after the grace) and ends it in the requested state;
 * - a run left running by a process that is gone is changed here, its orphaned process groups
 *   killed first;
 * - clear and mark requeue a finished run under the same id (one run per logical date holds):
 *   the dispatcher resumes it, finished tasks are kept and the cleared ones run again, every
 *   earlier try staying in the attempts and logs.
 */
import { SupervisorError, type Clock, type Logger, type RunEvent, type RunEventAudit, type RunState, type TaskState } from '../protocol';
import type { AuditAction, AuditEntry, AuditStore } from '../store/audit';
import type { PipelineStateRecord, PipelineStateStore } from '../store/pipeline-state';
import type { OperatorEndState, RunRecord, RunStore, TaskInstanceRecord } from '../store/runs';
import { isTaskDone, isTaskFailed, type PipelineCatalog, type PipelineSpec, type TaskSpec } from './dag';
import { summarizeRun, type RunSummary } from './run-summary';
import { isPidAlive } from './recovery';
import { newTaskInstance } from './runner';
import { isProcessGroupAlive, killProcessGroup } from './subprocess';

/** Who asks, and why. `actor` is a token name, or `cli:<os user>`. */
export interface Actor {
  actor: string;
  reason?: string | undefined;
}

export interface ClearOptions {
  /** Task or group ids; none = every task of the run. */
  tasks?: readonly string[];
  downstream?: boolean;
  upstream?: boolean;
  /** Keep only the chosen tasks that failed (failed, upstream_failed, timed_out, cancelled), then expand. */
  onlyFailed?: boolean;
  /** Clearing a succeeded ingestion task re-ingests: it must be confirmed. */
  confirmReingest?: boolean;
  /** Answer what would be cleared, change nothing. */
  dryRun?: boolean;
}

export interface ClearResult {
  run: RunSummary;
  cleared: string[];
  dryRun: boolean;
}

export interface OperationsParams {
  store: RunStore;
  pipelineState: PipelineStateStore;
  audit: AuditStore;
  catalog: Pick<PipelineCatalog, 'get' | 'find' | 'list'>;
  clock: Clock;
  logger: Logger;
  /** Publish a run event (the daemon's engine; the CLI has none). */
  emit?: (event: RunEvent) => void;
  /** A run was queued again, or a request was written: let the engine act now rather than on its next poll. */
  wake?: () => void;
  /** Counts operations and cleared tasks (the daemon's metrics). */
  observe?: (action: AuditAction, pipeline: string, count?: number) => void;
  /** Whether a pid is a live process (tests). */
  isAlive?: (pid: number) => boolean;
  /** Whether a running run's owner is alive (the engine's rules across hosts, src/engine/recovery.ts); default: its pid on this host. */
  ownerAlive?: (run: RunRecord) => boolean;
  /** SIGTERM → SIGKILL grace for orphaned process groups. */
  killGraceMs?: number;
}

export interface RunOperations {
  pause(pipeline: string, who: Actor): { state: PipelineStateRecord; changed: boolean };
  unpause(pipeline: string, who: Actor): { state: PipelineStateRecord; changed: boolean };
  isPaused(pipeline: string): boolean;
  cancel(runId: string, who: Actor): Promise<RunSummary>;
  clear(runId: string, options: ClearOptions, who: Actor): ClearResult;
  markRun(runId: string, state: string, who: Actor): Promise<RunSummary>;
  markTask(runId: string, taskId: string, state: string, who: Actor): RunSummary;
  audit(filter: { runId?: string; pipeline?: string; limit?: number; before?: number }): AuditEntry[];
  /** Records an operation done elsewhere (trigger, backfill) in the audit trail. */
  note(action: AuditAction, who: Actor, target: { pipeline: string; runId?: string }, details?: Record<string, unknown>): RunEventAudit;
}

const MARK_STATES = ['success', 'failed'] as const;
type MarkState = (typeof MARK_STATES)[number];
const ACTIVE: readonly RunState[] = ['queued', 'running'];
const FINISHED: readonly RunState[] = ['success', 'failed', 'skipped', 'timed_out', 'cancelled'];
/** Task states a trigger rule decided (not a try's outcome): re-decided when an upstream task is marked. */
const RULE_DECIDED: ReadonlySet<TaskState> = new Set(['none', 'queued', 'upstream_failed', 'skipped', 'cancelled']);

export function createRunOperations(p: OperationsParams): RunOperations {
  const { store, audit, clock } = p;
  const logger = p.logger.child({ component: 'engine', name: 'operations' });
  const isAlive = p.isAlive ?? isPidAlive;
  // the pipelines this store has not seen yet start paused when their config says `paused: true`
  p.pipelineState.ensure(
    p.catalog.list().map((spec) => ({ id: spec.id, paused: spec.paused })),
    clock.now(),
  );

  const loadRun = (runId: string): { run: RunRecord; spec: PipelineSpec } => {
    const run = store.getRun(runId);
    if (!run) throw new SupervisorError('SUP_ERR_NOT_FOUND', `no run "${runId}" (list them with \`supervisor runs list\`)`, { where: 'run' });
    const spec = p.catalog.find(run.pipeline);
    if (!spec) throw new SupervisorError('SUP_ERR_CONFLICT', `run "${runId}" belongs to pipeline "${run.pipeline}", which is no longer in the configuration`);
    return { run, spec };
  };
  const record = (action: AuditAction, who: Actor, target: { pipeline: string; runId?: string; taskId?: string }, details: Record<string, unknown> = {}): RunEventAudit => {
    audit.record({ at: clock.now(), actor: who.actor, action, ...target, ...(who.reason ? { reason: who.reason } : {}), details });
    p.observe?.(action, target.pipeline, typeof details.count === 'number' ? details.count : undefined);
    logger.info({ action, actor: who.actor, ...target, ...(who.reason ? { reason: who.reason } : {}) }, `operation: ${action}`);
    return { actor: who.actor, action, ...(who.reason ? { reason: who.reason } : {}) };
  };
  const emitRun = (run: RunRecord, auditInfo: RunEventAudit): void => {
    const e: RunEvent = {
      type: 'run',
      runId: run.id,
      pipeline: run.pipeline,
      logicalDate: run.logicalDate,
      trigger: run.kind,
      state: run.state,
      at: clock.now(),
      audit: auditInfo,
    };
    if (run.reason) e.reason = run.reason;
    p.emit?.(e);
  };
  const byWhom = (verb: string, who: Actor): string => `${verb} by ${who.actor}${who.reason ? `: ${who.reason}` : ''}`;

  /** Ends the unfinished tasks of a run no process executes (queued, or its owner died) in `taskState`. */
  const endTasks = async (run: RunRecord, taskState: TaskState, reason: string): Promise<void> => {
    const now = clock.now();
    for (const ti of store.listTasks(run.id)) {
      if (isTaskDone(ti.state)) continue;
      if (ti.pid !== null && isProcessGroupAlive(ti.pid)) {
        await killProcessGroup(ti.pid, p.killGraceMs ?? 10_000);
        logger.warn({ run: run.id, task: ti.taskId, pgid: ti.pid }, 'killed the process group of a task whose supervisor is gone');
      }
      if (ti.tryNumber > 0 && (ti.state === 'running' || ti.state === 'retrying'))
        store.updateAttempt(run.id, ti.taskId, ti.tryNumber, { state: taskState, endedAt: now, error: reason });
      store.updateTask(run.id, ti.taskId, { state: taskState, endedAt: now, nextTryAt: null, pid: null, reason });
    }
  };

  /**
   * Ends an active run in `end`: directly when queued or orphaned, through its executing
   * process otherwise (the request column; that process answers within its poll interval).
   */
  const endActiveRun = async (run: RunRecord, end: OperatorEndState, reason: string, who: Actor): Promise<RunRecord> => {
    const taskState: TaskState = end === 'cancelled' ? 'cancelled' : end;
    const now = clock.now();
    if (run.state === 'queued') {
      if (store.transitionRun(run.id, ['queued'], { state: end, reason, endedAt: now, ownerPid: null, requestedState: null, requestedBy: null })) {
        await endTasks(run, taskState, reason);
        return store.getRun(run.id)!;
      }
      run = store.getRun(run.id)!; // claimed meanwhile: it is running now
    }
    if (run.state !== 'running') return run;
    const ownerGone = p.ownerAlive ? !p.ownerAlive(run) : run.ownerPid === null || !isAlive(run.ownerPid);
    if (ownerGone) {
      if (store.transitionRun(run.id, ['running'], { state: end, reason, endedAt: now, ownerPid: null, requestedState: null, requestedBy: null }))
        await endTasks(run, taskState, reason);
      return store.getRun(run.id)!;
    }
    store.transitionRun(run.id, ['running'], { requestedState: end, requestedBy: who.actor, reason });
    p.wake?.();
    return store.getRun(run.id)!;
  };

  const parseMark = (state: string, where: string): MarkState => {
    if (!(MARK_STATES as readonly string[]).includes(state))
      throw new SupervisorError('SUP_ERR_BAD_REQUEST', `${where}: "${state}" is not a state a run or task can be marked (use success or failed)`);
    return state as MarkState;
  };

  /** Requeues a finished run so the dispatcher resumes it (its finished tasks are kept). */
  const requeue = (run: RunRecord, reason: string): boolean =>
    store.transitionRun(run.id, FINISHED, { state: 'queued', reason, endedAt: null, ownerPid: null, requestedState: null, requestedBy: null });

  const setPaused = (pipeline: string, paused: boolean, who: Actor) => {
    const spec = p.catalog.get(pipeline);
    const result = p.pipelineState.setPaused(spec.id, paused, who.actor, who.reason ?? null, clock.now());
    if (result.changed) record(paused ? 'pause' : 'unpause', who, { pipeline: spec.id });
    if (!paused && result.changed) p.wake?.(); // runs queued while paused may start now
    return { state: result.record, changed: result.changed };
  };

  return {
    pause: (pipeline, who) => setPaused(pipeline, true, who),
    unpause: (pipeline, who) => setPaused(pipeline, false, who),
    isPaused: (pipeline) => p.pipelineState.isPaused(p.catalog.get(pipeline).id),

    async cancel(runId, who) {
      const { run } = loadRun(runId);
      if (!ACTIVE.includes(run.state)) throw new SupervisorError('SUP_ERR_CONFLICT', `run "${run.id}" already ended (${run.state}); only a queued or running run can be cancelled`);
      const reason = byWhom('cancelled', who);
      const info = record('cancel', who, { pipeline: run.pipeline, runId: run.id });
      const after = await endActiveRun(run, 'cancelled', reason, who);
      if (after.state !== 'running') emitRun(after, info);
      return summarizeRun(store, after, false);
    },

    clear(runId, options, who) {
      const { run, spec } = loadRun(runId);
      if (ACTIVE.includes(run.state))
        throw new SupervisorError('SUP_ERR_CONFLICT', `run "${run.id}" is ${run.state}; clear tasks of a finished run (cancel this one first, or wait for it to finish)`);
      const instances = new Map(store.listTasks(run.id).map((t) => [t.taskId, t]));
      const chosen = expandNames(spec, options.tasks ?? [], 'tasks');
      let roots = chosen.length > 0 ? chosen : spec.tasks.map((t) => t.id);
      if (options.onlyFailed) roots = roots.filter((id) => isTaskFailed(instances.get(id)?.state ?? 'none'));
      const selected = new Set(roots);
      if (options.downstream) for (const id of roots) for (const d of walk(spec, id, 'downstream')) selected.add(d);
      if (options.upstream) for (const id of roots) for (const u of walk(spec, id, 'upstream')) selected.add(u);
      const cleared = spec.tasks.map((t) => t.id).filter((id) => selected.has(id));
      if (cleared.length === 0)
        throw new SupervisorError(
          'SUP_ERR_BAD_REQUEST',
          `tasks: nothing to clear in run "${run.id}"${options.onlyFailed ? ' (--only-failed: none of the chosen tasks failed)' : ''}`,
        );
      const reingest = cleared.filter((id) => getSpecTask(spec, id).operator === 'ingestion' && instances.get(id)?.state === 'success');
      if (reingest.length > 0 && !options.confirmReingest && !options.dryRun)
        throw new SupervisorError(
          'SUP_ERR_CONFLICT',
          `clearing ${reingest.join(', ')} (succeeded) runs the ingestion again for ${new Date(run.logicalDate).toISOString()}; confirm with --yes (API: "confirm_reingest": true)`,
        );
      if (options.dryRun) return { run: summarizeRun(store, run, false), cleared, dryRun: true };
      const reason = byWhom('cleared', who);
      for (const id of cleared) resetTask(store, run.id, getSpecTask(spec, id), instances.get(id), reason);
      if (!requeue(run, reason)) throw new SupervisorError('SUP_ERR_CONFLICT', `run "${run.id}" changed while it was being cleared; try again`);
      const info = record('clear', who, { pipeline: run.pipeline, runId: run.id }, { tasks: cleared, count: cleared.length, ...pickFlags(options) });
      const after = store.getRun(run.id)!;
      emitRun(after, info);
      p.wake?.();
      return { run: summarizeRun(store, after, false), cleared, dryRun: false };
    },

    async markRun(runId, state, who) {
      const target = parseMark(state, 'state');
      const { run, spec } = loadRun(runId);
      if (run.state === target) throw new SupervisorError('SUP_ERR_CONFLICT', `run "${run.id}" is already ${target}`);
      const reason = byWhom(`marked ${target}`, who);
      const info = record('mark_run', who, { pipeline: run.pipeline, runId: run.id }, { state: target, from: run.state });
      let after: RunRecord;
      if (ACTIVE.includes(run.state)) {
        after = await endActiveRun(run, target, reason, who);
      } else {
        const now = clock.now();
        if (target === 'success') {
          // Airflow: marking a run success marks its tasks that did not succeed success too
          for (const t of spec.tasks) {
            const ti = store.getTask(run.id, t.id);
            if (ti?.state === 'success' || ti?.state === 'skipped') continue;
            if (ti) store.updateTask(run.id, t.id, { state: 'success', endedAt: now, reason, nextTryAt: null, pid: null });
            else store.upsertTask(newTaskInstance(run.id, t, 'success', now, reason));
          }
        }
        store.transitionRun(run.id, FINISHED, { state: target, reason, endedAt: now });
        after = store.getRun(run.id)!;
      }
      if (after.state !== 'running') emitRun(after, info);
      return summarizeRun(store, after, false);
    },

    markTask(runId, taskId, state, who) {
      const target = parseMark(state, 'state');
      const { run, spec } = loadRun(runId);
      const task = getSpecTask(spec, taskId);
      if (run.state === 'running') throw new SupervisorError('SUP_ERR_CONFLICT', `run "${run.id}" is running; mark its tasks once it ended (or cancel it, or mark the whole run)`);
      const ti = store.getTask(run.id, task.id);
      if (ti?.state === target) throw new SupervisorError('SUP_ERR_CONFLICT', `task "${task.id}" of run "${run.id}" is already ${target}`);
      const reason = byWhom(`marked ${target}`, who);
      const now = clock.now();
      if (ti) store.updateTask(run.id, task.id, { state: target, endedAt: now, reason, nextTryAt: null, pid: null });
      else store.upsertTask(newTaskInstance(run.id, task, target, now, reason));
      // The downstream tasks a trigger rule decided are decided again with the new state.
      const redo = walk(spec, task.id, 'downstream').filter((id) => RULE_DECIDED.has(store.getTask(run.id, id)?.state ?? 'none'));
      for (const id of redo) resetTask(store, run.id, getSpecTask(spec, id), store.getTask(run.id, id) ?? undefined, `re-evaluated after ${task.id} was ${reason}`);
      const info = record('mark_task', who, { pipeline: run.pipeline, runId: run.id, taskId: task.id }, { state: target, from: ti?.state ?? 'none', redo });
      let after = store.getRun(run.id)!;
      const unfinished = spec.tasks.some((t) => !isTaskDone(store.getTask(run.id, t.id)?.state ?? 'none'));
      if (FINISHED.includes(after.state)) {
        if (unfinished) requeue(after, `resumed: ${task.id} ${reason}`);
        else {
          const derived: RunState = spec.tasks.some((t) => isTaskFailed(store.getTask(run.id, t.id)!.state)) ? 'failed' : 'success';
          if (derived !== after.state) store.transitionRun(run.id, FINISHED, { state: derived, reason: `${task.id} ${reason}`, endedAt: now });
        }
        after = store.getRun(run.id)!;
        if (after.state !== run.state) emitRun(after, info);
      }
      p.wake?.();
      return summarizeRun(store, after, false);
    },

    audit: (filter) => audit.list(filter),
    note: (action, who, target, details) => record(action, who, target, details),
  };
}

function getSpecTask(spec: PipelineSpec, id: string): TaskSpec {
  const t = spec.tasks.find((x) => x.id === id);
  if (!t) throw new SupervisorError('SUP_ERR_NOT_FOUND', `pipeline "${spec.id}" has no task "${id}" (tasks: ${spec.tasks.map((x) => x.id).join(', ')})`, { where: 'task' });
  return t;
}

/** Task and group ids → task ids (groups expanded), each unknown one an error naming it. */
function expandNames(spec: PipelineSpec, names: readonly string[], where: string): string[] {
  const out = new Set<string>();
  for (const name of names) {
    const members = spec.groups[name];
    if (members) members.forEach((m) => out.add(m));
    else if (spec.tasks.some((t) => t.id === name)) out.add(name);
    else
      throw new SupervisorError(
        'SUP_ERR_NOT_FOUND',
        `${where}: pipeline "${spec.id}" has no task or group "${name}" (tasks: ${spec.tasks.map((t) => t.id).join(', ')}${Object.keys(spec.groups).length ? `; groups: ${Object.keys(spec.groups).join(', ')}` : ''})`,
      );
  }
  return [...out];
}

/** Every task reachable from `id` along `direction` (not `id` itself). */
function walk(spec: PipelineSpec, id: string, direction: 'upstream' | 'downstream'): string[] {
  const byId = new Map(spec.tasks.map((t) => [t.id, t]));
  const seen = new Set<string>();
  const stack = [...(byId.get(id)?.[direction] ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byId.get(next)?.[direction] ?? []));
  }
  return [...seen];
}

/**
 * Back to `queued` (waiting for its trigger rule): the try count is kept, so the next try gets
 * the next number and every earlier try stays in the attempts and logs; the task gets its full
 * retry budget again, as Airflow's clear gives it.
 */
function resetTask(store: RunStore, runId: string, task: TaskSpec, ti: TaskInstanceRecord | undefined, reason: string): void {
  if (!ti) {
    store.upsertTask(newTaskInstance(runId, task, 'queued', null, reason));
    return;
  }
  store.updateTask(runId, task.id, { state: 'queued', maxTries: ti.tryNumber + task.retry.retries + 1, endedAt: null, nextTryAt: null, pid: null, result: null, reason });
}

function pickFlags(o: ClearOptions): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (o.downstream) out.downstream = true;
  if (o.upstream) out.upstream = true;
  if (o.onlyFailed) out.onlyFailed = true;
  if (o.confirmReingest) out.confirmReingest = true;
  return out;
}
