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
 *
 * After a failover the new leader **adopts** the tries its dead predecessor was waiting for
 * (`adopt`): the try's row (found by run, task and try number) keeps its worker's claim, and
 * the runner waits for that row's outcome as if it had queued it — the try runs once. Its
 * worker is judged like any other: no heartbeat for `heartbeatTimeoutMs` and it is lost.
 *
 * An abort whose reason is `abandoned` (another process owns the run now: this one was deposed
 * and the run adopted) or `handover` (this replica queues the run again for the leader of its
 * host) stops waiting at once and writes nothing: the try keeps running for its new owner. Ended rows are deleted after `retainEndedMs` (pruned here at most once a minute).
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
  /**
   * Waits for a try another process started (`ctx.tryNumber`, a run adopted after a failover):
   * its outcome or error as `execute` gives them; null (synchronously) when there is no such try
   * to wait for. Executors that run tries in-process have none.
   */
  adopt?(operatorName: string, ctx: TaskContext): Promise<TaskOutcome> | null;
  /** Whether `adopt` would find the try (crash recovery keeps such a try running). */
  canAdopt?(runId: string, taskId: string, tryNumber: number): boolean;
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
  /** How long ended rows stay in task_queue (which worker ran a try, its outcome). Default 1 h. */
  retainEndedMs?: number;
}

/**
 * An abort that means "another process owns the run now" (`abandoned`), or "another process will
 * own it" (`handover`: a replica that no longer leads queues its run again for the leader, which
 * adopts the try): stop waiting, write nothing, cancel nothing.
 */
export function leavesTryRunning(reason: unknown): boolean {
  const kind = reason instanceof Error ? (reason as { kind?: unknown }).kind : undefined;
  return kind === 'abandoned' || kind === 'handover';
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
  const retainMs = params.retainEndedMs ?? 3_600_000;
  let prunedAt = 0;

  const sleep = (ms: number): Promise<void> => clock.sleep(ms).catch(() => undefined);

  /** Deletes the rows that ended more than `retainMs` ago, at most once a minute (never fails a try). */
  const pruneEnded = (): void => {
    const now = clock.now();
    if (now - prunedAt < 60_000) return;
    prunedAt = now;
    try {
      queue.pruneEnded(now - retainMs);
    } catch {
      /* the next try's end prunes them */
    }
  };

  /** Appends the worker's stored log of the try to the runner's buffer (ctx.log), once it ended. */
  const replayLog = (ctx: TaskContext, row: TaskQueueRow): void => {
    const log = runs.getLogs(ctx.runId, ctx.taskId).find((l) => l.tryNumber === ctx.tryNumber);
    if (log?.truncatedBytes) ctx.log(`[supervisor] (the worker's log of this try lost its first ${log.truncatedBytes} bytes to the log cap)`);
    for (const line of (log?.content ?? '').split('\n')) if (line !== '') ctx.log(line);
    if (row.claimedBy) ctx.log(`[supervisor] try ${ctx.tryNumber} ran on worker ${row.claimedBy}`);
  };

  const api: TaskExecutor = {
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

      return waitFor(id, ctx);
    },
    adopt(name, ctx) {
      if (local.has(name)) return null;
      const row = queue.findTry(ctx.runId, ctx.taskId, ctx.tryNumber);
      if (!row) return null;
      ctx.logger.info({ queueId: row.id, tryNumber: ctx.tryNumber, state: row.state, worker: row.claimedBy }, 'adopted a try queued by the previous owner of the run');
      ctx.log(`[supervisor] try ${ctx.tryNumber} adopted after a failover (${row.state}${row.claimedBy ? ` on worker ${row.claimedBy}` : ''})`);
      return waitFor(row.id, ctx);
    },
    canAdopt: (runId, taskId, tryNumber) => queue.findTry(runId, taskId, tryNumber) !== null,
  };
  return api;

  /** Polls the try's row until it ended: the outcome, or the error the operator would have thrown. */
  async function waitFor(id: string, ctx: TaskContext): Promise<TaskOutcome> {
    let cancelSent = false;
    let seenHeartbeat: number | null = null;
    let seenAt = clock.now();
    for (;;) {
      // another process owns the run now (it adopted this try), or will (a hand-over): leave the row to it
      if (ctx.signal.aborted && leavesTryRunning(ctx.signal.reason)) throw ctx.signal.reason as Error;
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
      if (row.state !== 'queued' && row.state !== 'claimed') pruneEnded();
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
  }
}
