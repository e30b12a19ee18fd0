import type { TriggerKind } from './trigger';

/** `cancelled`: an operator cancelled the run (`runs cancel`); its unfinished tasks end `cancelled` too. */
export type RunState = 'queued' | 'running' | 'success' | 'failed' | 'skipped' | 'timed_out' | 'cancelled';

/** `cancelled`: stopped (or never started) because its run was cancelled; trigger rules count it as failed. */
export type TaskState = 'none' | 'queued' | 'running' | 'retrying' | 'success' | 'failed' | 'skipped' | 'upstream_failed' | 'timed_out' | 'cancelled';

export const TERMINAL_RUN_STATES: readonly RunState[] = ['success', 'failed', 'skipped', 'timed_out', 'cancelled'];
export const TERMINAL_TASK_STATES: readonly TaskState[] = ['success', 'failed', 'skipped', 'upstream_failed', 'timed_out', 'cancelled'];

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
      /** The operation that caused this transition (cancel, mark, clear), for alert templates and the UI. */
      audit?: RunEventAudit;
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
      audit?: RunEventAudit;
    };

/** Who did what to a run, and why (an entry of the audit trail). */
export interface RunEventAudit {
  /** The token name, or `cli:<os user>`. */
  actor: string;
  action: string;
  reason?: string;
}
