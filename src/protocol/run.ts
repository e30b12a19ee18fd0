import type { TriggerKind } from './trigger';

export type RunState = 'queued' | 'running' | 'success' | 'failed' | 'skipped' | 'timed_out';

export type TaskState = 'none' | 'queued' | 'running' | 'retrying' | 'success' | 'failed' | 'skipped' | 'upstream_failed' | 'timed_out';

export const TERMINAL_RUN_STATES: readonly RunState[] = ['success', 'failed', 'skipped', 'timed_out'];
export const TERMINAL_TASK_STATES: readonly TaskState[] = ['success', 'failed', 'skipped', 'upstream_failed', 'timed_out'];

export type TriggerRule = 'all_success' | 'all_done' | 'one_failed' | 'one_success' | 'none_failed' | 'always';

/** A state transition of a run or one of its tasks, as published on the run event stream. */
export type RunEvent =
  | {
      type: 'run';
      runId: string;
      pipeline: string;
      logicalDate: number;
      trigger: TriggerKind;
      state: RunState;
      at: number;
      /** Epoch ms the trigger fired; with the first task's start gives the schedule delay. */
      firedAt?: number;
      reason?: string;
      durationMs?: number;
    }
  | {
      type: 'task';
      runId: string;
      pipeline: string;
      logicalDate: number;
      taskId: string;
      attempt: number;
      state: TaskState;
      at: number;
      reason?: string;
      durationMs?: number;
    };
