/**
 * Where the runner runs one try of a task: the executor seam of runner.ts.
 *
 * - `local` (the default): the operator in this process, as it always was.
 * - `workers`: the try is queued in the store's task_queue (src/store/task-queue.ts) for a
 *   `supervisor worker` (src/engine/worker.ts), and its row is polled until it ends. The outcome
 *   maps back to exactly what the operator would have resolved or thrown here, so retries,
 *   trigger rules, timeouts and cancel behave the same. An abort (cancel, execution or run
 *   timeout, shutdown) writes a cancel request the worker answers by stopping the try's process
 *   group. A claimed row whose heartbeat does not move for `heartbeatTimeoutMs` (the worker was
 *   killed or its host lost) is marked lost, and the try fails with SUP_ERR_WORKER_LOST
 *   (retryable). The heartbeat is judged by this process's clock (when the value last changed),
 *   so the workers' clocks need not agree with ours.
 *
 * The worker writes the try's log into task_logs itself (live, for the API and UI); once the try
 * ended, its lines are appended to the runner's log buffer so the runner's last write keeps them.
 */
import { randomUUID } from 'node:crypto';
import { SupervisorError, type Clock, type ErrorCode } from '../protocol';
import type { RunStore } from '../store/runs';
import { createTaskQueueStore, type QueuedTaskError, type TaskQueueRow } from '../store/task-queue';
import type { SqlDatabase } from '../store/sql';
import type { Operator, TaskContext, TaskOutcome } from './operator';

export interface TaskExecutor {
  /** Runs one try: resolves with the operator's outcome or rejects with its error. */
  execute(operatorName: string, operator: Operator, ctx: TaskContext): Promise<TaskOutcome>;
}

export const localExecutor: TaskExecutor = {
  execute: (_name, operator, ctx) => operator(ctx),
};

export interface WorkerExecutorParams {
  db: SqlDatabase;
  runs: RunStore;
  clock: Clock;
  heartbeatTimeoutMs: number;
  /** Poll interval of a try's row. Default 200 ms. */
  pollIntervalMs?: number;
  /** Operators that still run here (default none). */
  localOperators?: readonly string[];
}

/** Rebuilds the error the operator threw on the worker. */
export function errorFromQueue(e: QueuedTaskError): Error {
  let err: Error;
  if (e.code !== undefined) {
    err = new SupervisorError(e.code as ErrorCode, e.message, {
      ...(e.where !== undefined ? { where: e.where } : {}),
      ...(e.retryable !== undefined ? { retryable: e.retryable } : {}),
    });
  } else {
    err = new Error(e.message);
  }
  if (e.name && e.name !== err.name) err.name = e.name;
  if (e.exitCode !== undefined) Object.assign(err, { exitCode: e.exitCode });
  if (e.result !== undefined) Object.assign(err, { result: e.result });
  return err;
}

/** The error a worker records for what its operator threw. */
export function errorToQueue(err: unknown): QueuedTaskError {
  if (err instanceof SupervisorError) {
    const out: QueuedTaskError = { message: err.message, name: err.name, code: err.code, retryable: err.retryable };
    if (err.where !== undefined) out.where = err.where;
    addExtras(out, err);
    return out;
  }
  if (err instanceof Error) {
    const out: QueuedTaskError = { message: err.message || err.name, name: err.name };
    addExtras(out, err);
    return out;
  }
  return { message: String(err), name: 'Error' };
}

function addExtras(out: QueuedTaskError, err: Error): void {
  const { exitCode, result } = err as { exitCode?: unknown; result?: unknown };
  if (typeof exitCode === 'number' || exitCode === null) out.exitCode = exitCode;
  if (result !== undefined) out.result = result;
}

export function createWorkerExecutor(params: WorkerExecutorParams): TaskExecutor {
  const queue = createTaskQueueStore(params.db);
  const { clock, runs } = params;
  const pollMs = params.pollIntervalMs ?? 200;
  const local = new Set(params.localOperators ?? []);

  const sleep = (ms: number): Promise<void> => clock.sleep(ms).catch(() => undefined);

  /** Appends the worker's stored log of the try to the runner's buffer (ctx.log), once it ended. */
  const replayLog = (ctx: TaskContext, row: TaskQueueRow): void => {
    const log = runs.getLogs(ctx.runId, ctx.taskId).find((l) => l.tryNumber === ctx.tryNumber);
    if (log?.truncatedBytes) ctx.log(`[supervisor] (the worker's log of this try lost its first ${log.truncatedBytes} bytes to the log cap)`);
    for (const line of (log?.content ?? '').split('\n')) if (line !== '') ctx.log(line);
    if (row.claimedBy) ctx.log(`[supervisor] try ${ctx.tryNumber} ran on worker ${row.claimedBy}`);
  };

  return {
    async execute(name, operator, ctx) {
      if (local.has(name)) return operator(ctx);
      const id = randomUUID();
      const now = clock.now();
      queue.supersede(ctx.runId, ctx.taskId, ctx.tryNumber, `superseded by try ${ctx.tryNumber}`, now);
      queue.enqueue({
        id,
        runId: ctx.runId,
        taskId: ctx.taskId,
        tryNumber: ctx.tryNumber,
        operator: name,
        createdAt: now,
        context: {
          pipeline: ctx.pipeline,
          taskId: ctx.taskId,
          runId: ctx.runId,
          logicalDate: ctx.logicalDate,
          tryNumber: ctx.tryNumber,
          maxTries: ctx.maxTries,
          params: { ...ctx.params },
          conf: { ...ctx.conf },
          upstream: ctx.upstream.map((u) => ({ ...u })),
          configDir: ctx.configDir,
        },
      });
      ctx.logger.debug({ queueId: id, tryNumber: ctx.tryNumber }, 'try queued for a worker');

      let cancelSent = false;
      let seenHeartbeat: number | null = null;
      let seenAt = clock.now();
      for (;;) {
        if (ctx.signal.aborted && !cancelSent) {
          cancelSent = true;
          const reason = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : 'the task was aborted';
          if (queue.requestCancel(id, reason, clock.now()) === 'failed' && queue.get(id)?.claimedBy == null) {
            // nobody claimed it: nothing runs anywhere
            throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error(reason);
          }
        }
        const row = queue.get(id);
        if (!row) throw new SupervisorError('SUP_ERR_INTERNAL', `the queued try ${id} of task ${ctx.taskId} disappeared from task_queue`);
        if (row.state === 'done') {
          replayLog(ctx, row);
          const o = row.outcome ?? {};
          const outcome: TaskOutcome = {};
          if (o.result !== undefined) outcome.result = o.result;
          if (o.skipped !== undefined) outcome.skipped = o.skipped;
          if (o.exitCode !== undefined) outcome.exitCode = o.exitCode;
          return outcome;
        }
        if (row.state === 'failed' || row.state === 'lost') {
          replayLog(ctx, row);
          const e = row.error ?? { message: 'the worker recorded no error', name: 'Error' };
          if (row.state === 'lost') throw new SupervisorError('SUP_ERR_WORKER_LOST', e.message, { retryable: true });
          throw errorFromQueue(e);
        }
        if (row.state === 'claimed') {
          const t = clock.now();
          if (row.heartbeatAt !== seenHeartbeat) {
            seenHeartbeat = row.heartbeatAt;
            seenAt = t;
          } else if (t - seenAt >= params.heartbeatTimeoutMs && row.heartbeatAt !== null) {
            const last = new Date(row.heartbeatAt).toISOString();
            const message = `worker ${row.claimedBy ?? '?'} stopped heartbeating at ${last} (no heartbeat for ${Math.round((t - seenAt) / 1000)} s, executor.heartbeat_timeout ${Math.round(params.heartbeatTimeoutMs / 1000)} s)`;
            queue.markLost(id, row.heartbeatAt, message, t);
            continue; // read the row again: lost now, or the worker finished just before
          }
        }
        await sleep(pollMs);
      }
    },
  };
}
