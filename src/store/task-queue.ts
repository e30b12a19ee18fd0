/**
 * The task queue of `executor.mode: workers` (migration 4): one row per try the runner hands to
 * a `supervisor worker`. The runner enqueues it and polls it; a worker claims it (PostgreSQL:
 * `SELECT … FOR UPDATE SKIP LOCKED` in a transaction; SQLite: a conditional UPDATE in an
 * immediate transaction), heartbeats it, and finishes it with the outcome. Every write after the
 * claim is conditional on the row still being this worker's claim, so a worker that was declared
 * lost cannot overwrite what the runner decided.
 *
 * States: queued → claimed → done | failed | lost. `cancel_requested` (a reason) asks the
 * claiming worker to stop the try; a queued row that is cancelled goes straight to failed.
 *
 * A try is also found by its key (run, task, try number): a new leader adopts the tries its dead
 * predecessor was waiting for (src/engine/recovery.ts). Ended rows are deleted once they are
 * older than a retention (`pruneEnded`, run by the executor) and with their run (`deleteRun`).
 */
import { dialectOf, type SqlDatabase } from './sql';

export type TaskQueueState = 'queued' | 'claimed' | 'done' | 'failed' | 'lost';

/** What a worker needs to rebuild the operator's TaskContext (JSON). */
export interface QueuedTaskContext {
  pipeline: string;
  taskId: string;
  runId: string;
  logicalDate: number;
  tryNumber: number;
  maxTries: number;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  upstream: { taskId: string; state: string; result: unknown; reason: string | null }[];
  configDir: string;
}

/** A task's error as the worker saw it, enough to rebuild the same error in the runner. */
export interface QueuedTaskError {
  message: string;
  name: string;
  /** Set when it was a SupervisorError. */
  code?: string;
  retryable?: boolean;
  where?: string;
  exitCode?: number | null;
  /** The failed task's result, when the operator attached one. */
  result?: unknown;
}

export interface QueuedTaskOutcome {
  result?: unknown;
  skipped?: string;
  exitCode?: number | null;
}

export interface TaskQueueRow {
  id: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  operator: string;
  context: QueuedTaskContext;
  state: TaskQueueState;
  claimedBy: string | null;
  claimedAt: number | null;
  heartbeatAt: number | null;
  pid: number | null;
  cancelRequested: string | null;
  outcome: QueuedTaskOutcome | null;
  error: QueuedTaskError | null;
  exitCode: number | null;
  createdAt: number;
  endedAt: number | null;
}

interface Row {
  id: string;
  run_id: string;
  task_id: string;
  try_number: number;
  operator: string;
  context: string;
  state: TaskQueueState;
  claimed_by: string | null;
  claimed_at: number | null;
  heartbeat_at: number | null;
  pid: number | null;
  cancel_requested: string | null;
  result: string | null;
  error: string | null;
  exit_code: number | null;
  created_at: number;
  ended_at: number | null;
}

const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

function toRow(r: Row): TaskQueueRow {
  return {
    id: r.id,
    runId: r.run_id,
    taskId: r.task_id,
    tryNumber: Number(r.try_number),
    operator: r.operator,
    context: JSON.parse(r.context) as QueuedTaskContext,
    state: r.state,
    claimedBy: r.claimed_by,
    claimedAt: r.claimed_at === null ? null : Number(r.claimed_at),
    heartbeatAt: r.heartbeat_at === null ? null : Number(r.heartbeat_at),
    pid: r.pid === null ? null : Number(r.pid),
    cancelRequested: r.cancel_requested,
    outcome: parse<QueuedTaskOutcome>(r.result),
    error: parse<QueuedTaskError>(r.error),
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    createdAt: Number(r.created_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
  };
}

export interface NewQueuedTask {
  id: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  operator: string;
  context: QueuedTaskContext;
  createdAt: number;
}

export interface TaskQueueStore {
  /** Queues a try (a row left by an earlier process for the same try is replaced). */
  enqueue(task: NewQueuedTask): void;
  get(id: string): TaskQueueRow | null;
  /** The row of one try (the key the runner knows after a failover), null when none was queued. */
  findTry(runId: string, taskId: string, tryNumber: number): TaskQueueRow | null;
  /** Deletes the rows that ended (done, failed, lost) before `before`; returns how many. */
  pruneEnded(before: number): number;
  /** Earlier tries of the task still queued or claimed: queued ones fail at once, claimed ones are asked to stop. */
  supersede(runId: string, taskId: string, tryNumber: number, reason: string, now: number): void;
  /**
   * Asks the worker to stop the try. A row nobody claimed yet fails at once: returns 'failed'
   * then; 'claimed' when a worker has to answer; the final state when it already ended.
   */
  requestCancel(id: string, reason: string, now: number): TaskQueueState;
  /** A claimed row whose heartbeat is still `heartbeatAt` becomes lost; false when it moved on. */
  markLost(id: string, heartbeatAt: number, reason: string, now: number): boolean;
  /** The oldest queued row, claimed by `worker`; null when none is queued. */
  claim(worker: string, now: number): TaskQueueRow | null;
  /** Heartbeats the worker's claimed rows; returns how many are still its own. */
  heartbeat(worker: string, ids: readonly string[], now: number): number;
  /** Of `ids`, the worker's rows with a cancel request (id → reason), and the ones no longer its claim (lost: to stop too). */
  requests(worker: string, ids: readonly string[]): { cancel: Map<string, string>; gone: Set<string> };
  setPid(id: string, worker: string, pid: number | null): void;
  /** Ends the worker's claim: done with the outcome, failed with the error, or lost (released by a stopping worker). */
  finish(id: string, worker: string, end: { state: 'done'; outcome: QueuedTaskOutcome } | { state: 'failed' | 'lost'; error: QueuedTaskError }, now: number): boolean;
  /** Rows per state (tests, metrics). */
  counts(): Record<TaskQueueState, number>;
}

export function createTaskQueueStore(db: SqlDatabase): TaskQueueStore {
  const postgres = dialectOf(db) === 'postgres';
  const cols = `id, run_id, task_id, try_number, operator, context, state, claimed_by, claimed_at, heartbeat_at, pid, cancel_requested, result, error, exit_code, created_at, ended_at`;
  const insert = db.prepare(
    `INSERT INTO task_queue (id, run_id, task_id, try_number, operator, context, state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)
     ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET id = excluded.id, operator = excluded.operator, context = excluded.context, state = 'queued',
       claimed_by = NULL, claimed_at = NULL, heartbeat_at = NULL, pid = NULL, cancel_requested = NULL, result = NULL, error = NULL, exit_code = NULL,
       created_at = excluded.created_at, ended_at = NULL`,
  );
  const getStmt = db.prepare<[string], Row>(`SELECT ${cols} FROM task_queue WHERE id = ?`);
  const findTryStmt = db.prepare<[string, string, number], Row>(`SELECT ${cols} FROM task_queue WHERE run_id = ? AND task_id = ? AND try_number = ?`);
  const pruneStmt = db.prepare(`DELETE FROM task_queue WHERE state IN ('done', 'failed', 'lost') AND ended_at < ?`);
  const supersedeQueued = db.prepare(`UPDATE task_queue SET state = 'failed', error = ?, ended_at = ? WHERE run_id = ? AND task_id = ? AND try_number < ? AND state = 'queued'`);
  const supersedeClaimed = db.prepare(
    `UPDATE task_queue SET cancel_requested = ? WHERE run_id = ? AND task_id = ? AND try_number < ? AND state = 'claimed' AND cancel_requested IS NULL`,
  );
  const cancelQueued = db.prepare(`UPDATE task_queue SET state = 'failed', cancel_requested = ?, error = ?, ended_at = ? WHERE id = ? AND state = 'queued'`);
  const cancelClaimed = db.prepare(`UPDATE task_queue SET cancel_requested = ? WHERE id = ? AND state = 'claimed' AND cancel_requested IS NULL`);
  const lostStmt = db.prepare(`UPDATE task_queue SET state = 'lost', error = ?, ended_at = ? WHERE id = ? AND state = 'claimed' AND heartbeat_at = ?`);
  const nextQueued = db.prepare<[], { id: string }>(
    postgres
      ? `SELECT id FROM task_queue WHERE state = 'queued' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`
      : `SELECT id FROM task_queue WHERE state = 'queued' ORDER BY created_at, id LIMIT 1`,
  );
  const claimStmt = db.prepare(`UPDATE task_queue SET state = 'claimed', claimed_by = ?, claimed_at = ?, heartbeat_at = ? WHERE id = ? AND state = 'queued'`);
  const heartbeatStmt = db.prepare(`UPDATE task_queue SET heartbeat_at = ? WHERE id = ? AND claimed_by = ? AND state = 'claimed'`);
  const requestStmt = db.prepare<[string], { state: TaskQueueState; claimed_by: string | null; cancel_requested: string | null }>(
    `SELECT state, claimed_by, cancel_requested FROM task_queue WHERE id = ?`,
  );
  const pidStmt = db.prepare(`UPDATE task_queue SET pid = ? WHERE id = ? AND claimed_by = ? AND state = 'claimed'`);
  const finishStmt = db.prepare(
    `UPDATE task_queue SET state = ?, result = ?, error = ?, exit_code = ?, ended_at = ?, pid = NULL WHERE id = ? AND claimed_by = ? AND state = 'claimed'`,
  );
  const countStmt = db.prepare<[], { state: TaskQueueState; n: number }>(`SELECT state, COUNT(*) AS n FROM task_queue GROUP BY state`);

  const claim = db.transaction((worker: string, now: number): TaskQueueRow | null => {
    const next = nextQueued.get();
    if (!next) return null;
    if (claimStmt.run(worker, now, now, next.id).changes !== 1) return null;
    const row = getStmt.get(next.id);
    return row ? toRow(row) : null;
  });
  const heartbeat = db.transaction((worker: string, ids: readonly string[], now: number): number => {
    let n = 0;
    for (const id of ids) n += heartbeatStmt.run(now, id, worker).changes;
    return n;
  });

  return {
    enqueue: (t) => {
      insert.run(t.id, t.runId, t.taskId, t.tryNumber, t.operator, JSON.stringify(t.context), t.createdAt);
    },
    get: (id) => {
      const r = getStmt.get(id);
      return r ? toRow(r) : null;
    },
    findTry: (runId, taskId, tryNumber) => {
      const r = findTryStmt.get(runId, taskId, tryNumber);
      return r ? toRow(r) : null;
    },
    pruneEnded: (before) => pruneStmt.run(before).changes,
    supersede: (runId, taskId, tryNumber, reason, now) => {
      supersedeQueued.run(JSON.stringify({ message: reason, name: 'Error' } satisfies QueuedTaskError), now, runId, taskId, tryNumber);
      supersedeClaimed.run(reason, runId, taskId, tryNumber);
    },
    requestCancel: (id, reason, now) => {
      if (cancelQueued.run(reason, JSON.stringify({ message: reason, name: 'Error' } satisfies QueuedTaskError), now, id).changes === 1) return 'failed';
      cancelClaimed.run(reason, id);
      return getStmt.get(id)?.state ?? 'failed';
    },
    markLost: (id, heartbeatAt, reason, now) =>
      lostStmt.run(JSON.stringify({ message: reason, name: 'SupervisorError', code: 'SUP_ERR_WORKER_LOST', retryable: true } satisfies QueuedTaskError), now, id, heartbeatAt)
        .changes === 1,
    // SQLite: BEGIN IMMEDIATE takes the write lock first, so two workers never pick the same row;
    // PostgreSQL: the row lock of FOR UPDATE SKIP LOCKED does
    claim: (worker, now) => claim.immediate(worker, now),
    heartbeat: (worker, ids, now) => (ids.length === 0 ? 0 : heartbeat.immediate(worker, ids, now)),
    requests: (worker, ids) => {
      const cancel = new Map<string, string>();
      const gone = new Set<string>();
      for (const id of ids) {
        const r = requestStmt.get(id);
        if (!r || r.state !== 'claimed' || r.claimed_by !== worker) gone.add(id);
        else if (r.cancel_requested !== null) cancel.set(id, r.cancel_requested);
      }
      return { cancel, gone };
    },
    setPid: (id, worker, pid) => {
      pidStmt.run(pid, id, worker);
    },
    finish: (id, worker, end, now) => {
      const result = end.state === 'done' ? JSON.stringify(end.outcome) : null;
      const error = end.state === 'done' ? null : JSON.stringify(end.error);
      const exitCode = end.state === 'done' ? (end.outcome.exitCode ?? null) : (end.error.exitCode ?? null);
      return finishStmt.run(end.state, result, error, exitCode, now, id, worker).changes === 1;
    },
    counts: () => {
      const out: Record<TaskQueueState, number> = { queued: 0, claimed: 0, done: 0, failed: 0, lost: 0 };
      for (const r of countStmt.all()) out[r.state] = Number(r.n);
      return out;
    },
  };
}
