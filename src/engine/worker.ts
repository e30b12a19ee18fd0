/**
 * A task worker (`supervisor worker`): claims tries the runner queued in task_queue
 * (executor.mode workers, src/engine/executor.ts) and runs them with the same operators as the
 * daemon — subprocesses in their own process group under the task wrapper (which kills the task
 * if this process dies), SIGTERM → SIGKILL on cancellation. It heartbeats its claims, answers
 * cancel requests, writes each try's log into the store's task_logs (flushed like the runner
 * does: at most once a second while it runs, and at the end) and records the outcome.
 *
 * stop(): no new claims; tries running finish within `shutdownGraceMs`, then are stopped and
 * their rows released as lost, so the runner retries them (on another worker).
 */
import { SupervisorError, type Clock, type Component, type Logger } from '../protocol';
import type { RunStore } from '../store/runs';
import { createTaskQueueStore, type TaskQueueRow } from '../store/task-queue';
import type { SqlDatabase } from '../store/sql';
import { errorToQueue } from './executor';
import { createLogBuffer } from './log-buffer';
import type { OperatorRegistry, TaskContext } from './operator';
import { AbortReason } from './runner';

export interface TaskWorkerParams {
  db: SqlDatabase;
  runs: RunStore;
  operators: OperatorRegistry;
  /** This worker's name in claimed_by (default host:pid). */
  name: string;
  concurrency: number;
  clock: Clock;
  logger: Logger;
  /** Where the task wrapper records exit statuses (local to this host). */
  statusDir: string;
  /** Claim poll while idle. Default 500 ms. */
  pollIntervalMs?: number;
  /** Heartbeat interval. Default 2 s. */
  heartbeatIntervalMs?: number;
  /** How long stop() lets running tries finish before stopping them. Default 30 s. */
  shutdownGraceMs?: number;
  /** After the tries were told to stop, how long stop() waits for them. Default 15 s. */
  abortGraceMs?: number;
  maxLogBytes?: number;
}

export interface TaskWorker extends Component {
  /** Queue ids of the tries running here. */
  running(): string[];
  /** Counters since start, for the worker's /metrics and /readyz (src/metrics/worker.ts). */
  facts(): TaskWorkerFacts;
}

/** How a try ended on this worker, as recorded in task_queue.state. */
export type TaskWorkerOutcome = 'done' | 'failed' | 'lost';

export interface TaskWorkerFacts {
  concurrency: number;
  /** Tries claimed from the queue. */
  claimed: number;
  /** Tries ended, by outcome (lost: stopped by this worker's shutdown and released). */
  finished: Record<TaskWorkerOutcome, number>;
  /** Heartbeat writes the store refused or did not answer. */
  heartbeatFailures: number;
  /** Claim polls that failed (store errors). */
  claimErrors: number;
  /** True from stop() on: no new claims, running tries finishing. */
  draining: boolean;
}

interface Running {
  row: TaskQueueRow;
  ac: AbortController;
  done: Promise<void>;
}

export function createTaskWorker(params: TaskWorkerParams): TaskWorker {
  const { clock, runs } = params;
  const logger = params.logger.child({ component: 'worker', name: params.name });
  const queue = createTaskQueueStore(params.db);
  const pollMs = params.pollIntervalMs ?? 500;
  const heartbeatMs = params.heartbeatIntervalMs ?? 2_000;
  const maxLogBytes = params.maxLogBytes ?? 1024 * 1024;
  const running = new Map<string, Running>();
  let timer: NodeJS.Timeout | undefined;
  let claiming = false;
  let started = false;
  let stopping: Promise<void> | undefined;
  let lastHeartbeat = 0;
  /** Rows this worker stopped on its own shutdown: released as lost, not failed. */
  const released = new Set<string>();
  const counts = { claimed: 0, finished: { done: 0, failed: 0, lost: 0 } as Record<TaskWorkerOutcome, number>, heartbeatFailures: 0, claimErrors: 0 };

  /** Runs fn; a failure is logged (and counted by onError) and tried again at the next tick. */
  const safely = (what: string, fn: () => void, onError?: () => void): void => {
    try {
      fn();
    } catch (err) {
      onError?.();
      logger.warn({ error: (err as Error).message }, `${what} failed; trying again at the next tick`);
    }
  };
  const heartbeatFailed = (): void => void counts.heartbeatFailures++;

  function tick(): void {
    timer = undefined;
    if (stopping) return;
    const now = clock.now();
    safely(
      'heartbeat',
      () => {
        if (now - lastHeartbeat >= heartbeatMs) {
          lastHeartbeat = now;
          queue.heartbeat(params.name, [...running.keys()], now);
        }
      },
      heartbeatFailed,
    );
    safely('reading cancel requests', () => {
      if (running.size === 0) return;
      const { cancel, gone } = queue.requests(params.name, [...running.keys()]);
      for (const [id, reason] of cancel) {
        const r = running.get(id);
        if (r && !r.ac.signal.aborted) {
          logger.info({ run: r.row.runId, task: r.row.taskId, tryNumber: r.row.tryNumber, reason }, 'cancel requested: stopping the try');
          r.ac.abort(new AbortReason('cancelled', reason));
        }
      }
      for (const id of gone) {
        const r = running.get(id);
        if (r && !r.ac.signal.aborted) {
          logger.warn({ run: r.row.runId, task: r.row.taskId, tryNumber: r.row.tryNumber }, "the try is no longer this worker's claim (declared lost): stopping it");
          r.ac.abort(new AbortReason('cancelled', 'the try was declared lost'));
        }
      }
    });
    safely(
      'claiming',
      () => {
        if (!claiming) return;
        while (running.size < params.concurrency && !stopping) {
          const row = queue.claim(params.name, clock.now());
          if (!row) break;
          counts.claimed++;
          startTry(row);
        }
      },
      () => void counts.claimErrors++,
    );
    schedule(pollMs);
  }

  function schedule(ms: number): void {
    if (stopping || timer) return;
    timer = setTimeout(tick, ms);
  }

  function startTry(row: TaskQueueRow): void {
    const ac = new AbortController();
    const entry: Running = { row, ac, done: Promise.resolve() };
    running.set(row.id, entry);
    entry.done = runTry(row, ac).finally(() => {
      running.delete(row.id);
      // a free slot: look for the next try at once
      if (!stopping && timer) {
        clearTimeout(timer);
        timer = undefined;
        schedule(0);
      }
    });
  }

  async function runTry(row: TaskQueueRow, ac: AbortController): Promise<void> {
    const c = row.context;
    const tlog = logger.child({ run: row.runId, task: row.taskId, tryNumber: row.tryNumber });
    const startedAt = clock.now();
    const logBuf = createLogBuffer(maxLogBytes);
    let lastFlush = startedAt;
    const flush = (): void =>
      safely('saving the task log', () =>
        runs.saveLog({ runId: row.runId, taskId: row.taskId, tryNumber: row.tryNumber, content: logBuf.content(), truncatedBytes: logBuf.truncatedBytes() }),
      );
    logBuf.append(`[worker ${params.name}] claimed try ${row.tryNumber} of ${row.taskId} (operator ${row.operator})`);
    flush();
    const ctx: TaskContext = {
      pipeline: c.pipeline,
      taskId: c.taskId,
      runId: c.runId,
      logicalDate: c.logicalDate,
      tryNumber: c.tryNumber,
      maxTries: c.maxTries,
      params: c.params,
      conf: c.conf,
      upstream: c.upstream as TaskContext['upstream'],
      signal: ac.signal,
      log: (line) => {
        logBuf.append(line);
        const now = clock.now();
        if (now - lastFlush >= 1000) {
          lastFlush = now;
          flush();
        }
      },
      setPid: (pid) => safely('recording the pid', () => queue.setPid(row.id, params.name, pid)),
      logger: tlog,
      configDir: c.configDir,
      statusDir: params.statusDir,
      now: () => clock.now(),
    };
    tlog.info('try claimed');
    const operator = params.operators[row.operator];
    let end: Parameters<typeof queue.finish>[2];
    try {
      if (!operator) {
        throw new SupervisorError(
          'SUP_ERR_CONFIG_INVALID',
          `no operator "${row.operator}" is registered on worker ${params.name} (registered: ${Object.keys(params.operators).join(', ') || 'none'})`,
          {
            where: `pipelines.${c.pipeline}.tasks.${c.taskId}.operator`,
            retryable: false,
          },
        );
      }
      const outcome = await operator(ctx);
      end = {
        state: 'done',
        outcome: {
          ...(outcome.result !== undefined ? { result: outcome.result } : {}),
          ...(outcome.skipped !== undefined ? { skipped: outcome.skipped } : {}),
          exitCode: outcome.exitCode ?? null,
        },
      };
    } catch (err) {
      const e = errorToQueue(err);
      if (released.has(row.id)) end = { state: 'lost', error: { ...e, message: `worker ${params.name} shut down while the try was running (${e.message})` } };
      else end = { state: 'failed', error: e };
    }
    counts.finished[end.state]++;
    logBuf.append(`[worker ${params.name}] try ${row.tryNumber}: ${end.state === 'done' ? 'done' : `${end.state}: ${end.error.message}`}`);
    flush();
    safely('recording the outcome', () => {
      if (!queue.finish(row.id, params.name, end, clock.now())) tlog.warn("the try was no longer this worker's claim; its outcome was not recorded");
    });
    tlog.info({ state: end.state, durationMs: clock.now() - startedAt }, 'try ended');
  }

  return {
    name: 'task-worker',
    running: () => [...running.keys()],
    facts: () => ({ concurrency: params.concurrency, ...counts, finished: { ...counts.finished }, draining: stopping !== undefined }),
    start() {
      if (started) return Promise.resolve();
      started = true;
      claiming = true;
      logger.info({ concurrency: params.concurrency }, 'worker started');
      schedule(0);
      return Promise.resolve();
    },
    stop() {
      if (stopping) return stopping;
      claiming = false;
      stopping = (async () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        const all = (): Promise<unknown> => Promise.allSettled([...running.values()].map((r) => r.done));
        // keep heartbeating and answering cancels while the running tries finish
        let hb: NodeJS.Timeout | undefined;
        const beat = (): void => {
          safely('heartbeat', () => queue.heartbeat(params.name, [...running.keys()], clock.now()), heartbeatFailed);
          safely('reading cancel requests', () => {
            if (running.size === 0) return;
            for (const [id, reason] of queue.requests(params.name, [...running.keys()]).cancel) running.get(id)?.ac.abort(new AbortReason('cancelled', reason));
          });
        };
        if (running.size > 0) {
          logger.info({ running: running.size, graceMs: params.shutdownGraceMs ?? 30_000 }, 'stopping: letting running tries finish');
          hb = setInterval(beat, Math.min(heartbeatMs, 1000));
          const graceAc = new AbortController();
          await Promise.race([all(), clock.sleep(params.shutdownGraceMs ?? 30_000, graceAc.signal).catch(() => undefined)]);
          graceAc.abort();
          if (running.size > 0) {
            logger.warn({ running: running.size }, 'stopping: the grace is over; stopping the tries (released as lost, retried elsewhere)');
            for (const [id, r] of running) {
              released.add(id);
              r.ac.abort(new AbortReason('shutdown', `worker ${params.name} is shutting down`));
            }
            const waitAc = new AbortController();
            await Promise.race([all(), clock.sleep(params.abortGraceMs ?? 15_000, waitAc.signal).catch(() => undefined)]);
            waitAc.abort();
          }
          clearInterval(hb);
        }
        logger.info('worker stopped');
      })();
      return stopping;
    },
  };
}
