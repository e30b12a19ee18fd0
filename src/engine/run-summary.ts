/** A run as the engine answers it (CLI, API, tests): the run row with its task instances. */
import type { RunState, TriggerKind } from '../protocol';
import type { RunRecord, RunStore, TaskInstanceRecord } from '../store/runs';

export interface TaskSummary {
  taskId: string;
  state: string;
  tryNumber: number;
  maxTries: number;
  reason: string | null;
  startedAt: number | null;
  endedAt: number | null;
}

export interface RunSummary {
  runId: string;
  pipeline: string;
  logicalDate: number;
  kind: TriggerKind;
  state: RunState;
  reason: string | null;
  /** False when a run for this logical date already existed (the trigger was a duplicate). */
  created: boolean;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  tasks: TaskSummary[];
}

/** `tasks`: the run's task instances when the caller has them (the ones it just wrote), else they are read. */
export function summarizeRun(store: RunStore, run: RunRecord, created = true, tasks?: readonly TaskInstanceRecord[]): RunSummary {
  return {
    runId: run.id,
    pipeline: run.pipeline,
    logicalDate: run.logicalDate,
    kind: run.kind,
    state: run.state,
    reason: run.reason,
    created,
    queuedAt: run.queuedAt,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    tasks: (tasks ?? store.listTasks(run.id)).map((t) => ({
      taskId: t.taskId,
      state: t.state,
      tryNumber: t.tryNumber,
      maxTries: t.maxTries,
      reason: t.reason,
      startedAt: t.startedAt,
      endedAt: t.endedAt,
    })),
  };
}
