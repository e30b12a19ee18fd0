/**
 * What a task runs. An operator is a plain async function of a TaskContext: it resolves with
 * a TaskOutcome (the task succeeded, or chose to be skipped) or throws (the task failed). A
 * thrown SupervisorError with `retryable: false` stops retries (usage errors, unknown source).
 */
import type { Logger, Notification, Signal, TaskState } from '../protocol';

export interface UpstreamResult {
  taskId: string;
  state: TaskState;
  result: unknown;
  reason: string | null;
}

export interface TaskContext {
  pipeline: string;
  taskId: string;
  runId: string;
  /** Epoch ms of the run's logical date. */
  logicalDate: number;
  /** 1 for the first try. */
  tryNumber: number;
  maxTries: number;
  /** The task's params from the config (`{{ var.x }}` and `${ENV}` already resolved). */
  params: Readonly<Record<string, unknown>>;
  /** The run's params (Airflow's `conf`: manual --conf, decoded offsets-trigger records). */
  conf: Readonly<Record<string, unknown>>;
  /** Results of the upstream tasks (and of every finished task of the run, by id). */
  upstream: readonly UpstreamResult[];
  /** Fires on execution timeout, run timeout, cancellation or shutdown. */
  signal: AbortSignal;
  /** Appends one line to the task log (capped, tail kept). */
  log(line: string): void;
  /** Records the process group the task started, so a crash can be cleaned up. */
  setPid(pid: number | null): void;
  logger: Logger;
  /** Folder relative paths in params are resolved against (the config file's folder). */
  configDir: string;
  /** Where subprocess tasks record their exit status (crash recovery); null = not recorded. */
  statusDir: string | null;
  now(): number;
}

export interface TaskOutcome {
  /** Stored as the task instance's result (JSON). */
  result?: unknown;
  /** When set, the task ends `skipped` with this reason instead of `success`. */
  skipped?: string;
  /** The process exit code, for the attempt record. */
  exitCode?: number | null;
}

export type Operator = (ctx: TaskContext) => Promise<TaskOutcome>;

/** Operator name (as in the config's `operator:`) → implementation. */
export type OperatorRegistry = Readonly<Record<string, Operator>>;

/** Notification sender injected by the composition root (the alert outbox). */
export type NotifyFn = (notification: Notification) => Promise<void> | void;

/** Latest signals of the continuous checks, injected by the composition root. */
export type LatestSignalsFn = () => readonly Signal[];
