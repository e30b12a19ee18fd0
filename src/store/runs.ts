/**
 * Run repository: runs, task instances, attempts and (capped) task logs in the SQLite store.
 *
 * The idempotency key is the unique index `runs(pipeline, logical_date) WHERE rerun = 0`:
 * `insertRun` returns the existing run instead of creating a second one for the same logical
 * date, unless `rerun` is asked for explicitly.
 */
import { randomBytes } from 'node:crypto';
import type { RunState, TaskState, TriggerKind } from '../protocol';
import type { SqliteDatabase } from './database';
import { getLater, runLater } from './postgres/database';
import { dialectOf, type SqlStatement } from './sql';

export interface RunRecord {
  id: string;
  pipeline: string;
  logicalDate: number;
  kind: TriggerKind;
  state: RunState;
  params: Record<string, unknown>;
  reason: string | null;
  firedAt: number;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  ownerPid: number | null;
  /**
   * Who executes it while running: the claiming process's id `host:pid:random` (a replica's
   * lease holder id; src/engine/recovery.ts judges its liveness). Null when queued or ended, and
   * on runs claimed by an older version (ownerPid only).
   */
  owner: string | null;
  /** The run this one re-runs (rerun runs only). */
  attemptOf: string | null;
  rerun: boolean;
  /** An operator asked the executing process to end the run in this state (cancel, mark). */
  requestedState: OperatorEndState | null;
  requestedBy: string | null;
}

/** The states an operator may end an active run in: cancel it, or mark it. */
export type OperatorEndState = 'cancelled' | 'success' | 'failed';

export interface TaskInstanceRecord {
  runId: string;
  taskId: string;
  state: TaskState;
  tryNumber: number;
  maxTries: number;
  startedAt: number | null;
  endedAt: number | null;
  nextTryAt: number | null;
  /** Process (group leader) of the running attempt, for orphan clean-up after a crash. */
  pid: number | null;
  result: unknown;
  reason: string | null;
}

export interface AttemptRecord {
  runId: string;
  taskId: string;
  tryNumber: number;
  state: TaskState;
  startedAt: number;
  endedAt: number | null;
  pid: number | null;
  exitCode: number | null;
  error: string | null;
}

export interface TaskLogRecord {
  runId: string;
  taskId: string;
  tryNumber: number;
  content: string;
  truncatedBytes: number;
}

export interface NewRun {
  pipeline: string;
  logicalDate: number;
  kind: TriggerKind;
  params?: Record<string, unknown>;
  firedAt: number;
  queuedAt: number;
  state?: RunState;
  reason?: string;
  rerun?: boolean;
  /** A run that never holds the (pipeline, logical date) key (`pipelines test`, `tasks test`). */
  detached?: boolean;
  /** Explicit id (tests); otherwise derived from kind and logical date. */
  id?: string;
}

/** How `scheduleRun` creates an automatic trigger's run (src/engine/submit.ts). */
export interface ScheduleRunOptions {
  /** The overlap policy's room: no run is created while the pipeline has this many queued or running (null: no limit). */
  room: number | null;
  /**
   * Claim the new run in the same statement (running, owned by `pid`/`owner`, started `now`)
   * when its pipeline runs fewer than `maxActive` and has none queued (which the dispatcher
   * would start first); null: always queued.
   */
  claim: { maxActive: number; pid: number; owner: string; now: number } | null;
  /** Create nothing while the pipeline is paused (the `paused` outcome). */
  skipPaused?: boolean;
}

/**
 * The first writes of a run created claimed (`scheduleFirst`), planned by the caller for the run
 * id it gives (src/engine/runner.ts planRun): every task instance, and the first try of each
 * task that starts at once (its attempt row).
 */
export interface FirstWrites {
  tasks: readonly TaskInstanceRecord[];
  attempts: ReadonlyArray<{ taskId: string; tryNumber: number; startedAt: number }>;
}

export type ScheduledRun =
  /** The logical date's run existed: not created again. */
  | { outcome: 'exists'; run: RunRecord }
  /** The overlap policy had no room (`active` queued or running). */
  | { outcome: 'no_room'; active: number }
  /** The pipeline is paused (`skipPaused`). */
  | { outcome: 'paused' }
  | { outcome: 'created'; run: RunRecord; claimed: boolean };

export interface ListRunsFilter {
  pipeline?: string;
  state?: RunState | readonly RunState[];
  kind?: TriggerKind;
  limit?: number;
  /** Logical-date range, inclusive. */
  from?: number;
  to?: number;
}

export interface RunStore {
  /** Creates the run, or returns the existing one for (pipeline, logical date) with `created: false`. */
  insertRun(run: NewRun): { run: RunRecord; created: boolean };
  /**
   * An automatic trigger's run, in one statement when it is created: an INSERT … SELECT that
   * inserts it unless the overlap policy has no room or (with `skipPaused`) the pipeline is
   * paused, claimed when `options.claim` allows, the logical date's run left alone. When nothing
   * was inserted, one look-up says why (the run exists, no room, paused).
   */
  scheduleRun(run: NewRun, options: ScheduleRunOptions): ScheduledRun;
  /**
   * `scheduleRun` with `first` written when (and only when) this call creates the run claimed,
   * answered by the function returned. On PostgreSQL one statement: the run's INSERT … SELECT
   * with the task-instance and attempt rows as data-modifying CTEs that insert only beside a run
   * this statement inserted running, and the look-up of why nothing was inserted, from the same
   * snapshot. Inside a transaction it is held back (src/store/postgres/database.ts getLater) and
   * goes with the transaction's next request — at the latest its COMMIT: BEGIN … COMMIT in one
   * round trip —, so the caller reads the outcome after the commit. On SQLite the statements of
   * `scheduleRun`, then upsertTask and startAttempt, at once.
   */
  scheduleFirst(run: NewRun & { id: string }, options: ScheduleRunOptions, first: FirstWrites): () => ScheduledRun;
  /**
   * `fn`'s store calls in one transaction (inside a transaction: part of it, no savepoint; an
   * error thrown out of `fn` must fail that transaction too). On PostgreSQL the writes
   * whose answer nobody reads (task, attempt, log and run updates) are sent with the COMMIT:
   * such a group costs one round trip and one commit.
   */
  atomically<T>(fn: () => T): T;
  getRun(id: string): RunRecord | null;
  /** The non-rerun run of a logical date. */
  findRun(pipeline: string, logicalDate: number): RunRecord | null;
  listRuns(filter?: ListRunsFilter): RunRecord[];
  /** How many runs of these states each pipeline has, in one query. */
  countByPipeline(states: readonly RunState[]): Map<string, number>;
  /** How many runs of a pipeline are in these states. */
  countRuns(pipeline: string, states: readonly RunState[]): number;
  /**
   * One page of queued runs, oldest first (by queued time, then id), after `after`: the
   * dispatcher pages through every queued run with it. `pipelines`/`kinds` keep only runs of
   * those pipelines or of those kinds (both given: either matches).
   */
  listQueued(page: { after?: { queuedAt: number; id: string }; limit: number; pipelines?: readonly string[]; kinds?: readonly TriggerKind[] }): RunRecord[];
  /**
   * Atomically moves a queued run to running, owned by `pid` and (when given) the owner id
   * `host:pid:random`; false if another process took it.
   */
  claimRun(id: string, pid: number, now: number, owner?: string): boolean;
  /** `ownerPid: null` clears the owner too (one identity). */
  updateRun(id: string, patch: Partial<Pick<RunRecord, 'state' | 'reason' | 'startedAt' | 'endedAt' | 'ownerPid' | 'owner' | 'requestedState' | 'requestedBy'>>): void;
  /**
   * Atomically moves a run from one of `from` to `patch.state` (with the rest of the patch);
   * false when it was no longer in one of those states (another process got there first), or,
   * with `owner` given, no longer owned by that owner id (null: by none).
   */
  transitionRun(
    id: string,
    from: readonly RunState[],
    patch: Partial<Pick<RunRecord, 'state' | 'reason' | 'startedAt' | 'endedAt' | 'ownerPid' | 'owner' | 'requestedState' | 'requestedBy'>>,
    owner?: string | null,
  ): boolean;
  /** The owner id of each of these runs (one query; a missing run is left out). */
  ownersOf(ids: readonly string[]): Map<string, string | null>;
  /** Running runs with an operator request pending, owned by the owner id `owner` when given, else by `pid`. */
  listRequested(pid: number, owner?: string): RunRecord[];
  /** Newest logical date of a pipeline's runs of the given kinds (for catchup). */
  lastLogicalDate(pipeline: string, kinds?: readonly TriggerKind[]): number | null;
  lastSuccess(pipeline: string): RunRecord | null;
  deleteRun(id: string): void;

  listTasks(runId: string): TaskInstanceRecord[];
  getTask(runId: string, taskId: string): TaskInstanceRecord | null;
  upsertTask(task: TaskInstanceRecord): void;
  updateTask(runId: string, taskId: string, patch: Partial<Omit<TaskInstanceRecord, 'runId' | 'taskId'>>): void;

  startAttempt(a: { runId: string; taskId: string; tryNumber: number; startedAt: number }): void;
  updateAttempt(runId: string, taskId: string, tryNumber: number, patch: Partial<Pick<AttemptRecord, 'state' | 'endedAt' | 'pid' | 'exitCode' | 'error'>>): void;
  listAttempts(runId: string, taskId?: string): AttemptRecord[];

  saveLog(log: TaskLogRecord): void;
  getLogs(runId: string, taskId?: string): TaskLogRecord[];
}

interface RunRow {
  id: string;
  pipeline: string;
  logical_date: number;
  trigger_kind: string;
  state: string;
  params: string;
  reason: string | null;
  fired_at: number;
  queued_at: number;
  started_at: number | null;
  ended_at: number | null;
  owner_pid: number | null;
  owner: string | null;
  attempt_of: string | null;
  rerun: number;
  requested_state: string | null;
  requested_by: string | null;
}

interface TaskRow {
  run_id: string;
  task_id: string;
  state: string;
  try_number: number;
  max_tries: number;
  started_at: number | null;
  ended_at: number | null;
  next_try_at: number | null;
  pid: number | null;
  result: string | null;
  reason: string | null;
}

interface AttemptRow {
  run_id: string;
  task_id: string;
  try_number: number;
  state: string;
  started_at: number;
  ended_at: number | null;
  pid: number | null;
  exit_code: number | null;
  error: string | null;
}

/** `domain_ingestion.scheduled__2025-10-05T00:00:00.000Z`: the pipeline, then Airflow's run id. */
export function makeRunId(pipeline: string, kind: TriggerKind, logicalDate: number, rerun = false): string {
  const prefix = kind === 'cron' ? 'scheduled' : kind;
  const base = `${pipeline}.${prefix}__${new Date(logicalDate).toISOString()}`;
  return rerun ? `${base}__${kind === 'test' ? 'test' : 'rerun'}_${randomBytes(3).toString('hex')}` : base;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function toRun(row: RunRow): RunRecord {
  const params = parseJson(row.params);
  return {
    id: row.id,
    pipeline: row.pipeline,
    logicalDate: row.logical_date,
    kind: row.trigger_kind as TriggerKind,
    state: row.state as RunState,
    params: params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : {},
    reason: row.reason,
    firedAt: row.fired_at,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    ownerPid: row.owner_pid,
    owner: row.owner ?? null,
    attemptOf: row.attempt_of,
    rerun: row.rerun === 1,
    requestedState: (row.requested_state as OperatorEndState | null) ?? null,
    requestedBy: row.requested_by ?? null,
  };
}

function toTask(row: TaskRow): TaskInstanceRecord {
  return {
    runId: row.run_id,
    taskId: row.task_id,
    state: row.state as TaskState,
    tryNumber: row.try_number,
    maxTries: row.max_tries,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    nextTryAt: row.next_try_at,
    pid: row.pid,
    result: parseJson(row.result),
    reason: row.reason,
  };
}

function toAttempt(row: AttemptRow): AttemptRecord {
  return {
    runId: row.run_id,
    taskId: row.task_id,
    tryNumber: row.try_number,
    state: row.state as TaskState,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    pid: row.pid,
    exitCode: row.exit_code,
    error: row.error,
  };
}

const RUN_COLUMNS: Record<string, string> = {
  state: 'state',
  reason: 'reason',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  ownerPid: 'owner_pid',
  owner: 'owner',
  requestedState: 'requested_state',
  requestedBy: 'requested_by',
};

const TASK_COLUMNS: Record<string, string> = {
  state: 'state',
  tryNumber: 'try_number',
  maxTries: 'max_tries',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  nextTryAt: 'next_try_at',
  pid: 'pid',
  result: 'result',
  reason: 'reason',
};

const ATTEMPT_COLUMNS: Record<string, string> = {
  state: 'state',
  endedAt: 'ended_at',
  pid: 'pid',
  exitCode: 'exit_code',
  error: 'error',
};

/** Releasing a run's pid (`ownerPid: null`) releases its owner id too: they name one process. */
function withOwner<T extends { ownerPid?: number | null; owner?: string | null }>(patch: T): T {
  return patch.ownerPid === null && patch.owner === undefined ? { ...patch, owner: null } : patch;
}

function patchSql(patch: Record<string, unknown>, columns: Record<string, string>): { sets: string; values: unknown[] } {
  const sets: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(patch)) {
    const column = columns[key];
    if (!column || value === undefined) continue;
    sets.push(`${column} = ?`);
    values.push(key === 'result' ? (value === null ? null : JSON.stringify(value)) : value);
  }
  return { sets: sets.join(', '), values };
}

/** A task instance's columns but run_id, as the upsert binds them. */
function taskValues(t: TaskInstanceRecord): Record<string, unknown> {
  return {
    task_id: t.taskId,
    state: t.state,
    try_number: t.tryNumber,
    max_tries: t.maxTries,
    started_at: t.startedAt,
    ended_at: t.endedAt,
    next_try_at: t.nextTryAt,
    pid: t.pid,
    result: t.result === null || t.result === undefined ? null : JSON.stringify(t.result),
    reason: t.reason,
  };
}

function prefixed(prefix: string, values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${prefix}${k}`, v]));
}

/** The PostgreSQL type of each task_instances / task_attempts column bound in scheduleFirstSql. */
const TASK_TYPES: ReadonlyArray<[string, string]> = [
  ['task_id', 'TEXT'],
  ['state', 'TEXT'],
  ['try_number', 'INTEGER'],
  ['max_tries', 'INTEGER'],
  ['started_at', 'BIGINT'],
  ['ended_at', 'BIGINT'],
  ['next_try_at', 'BIGINT'],
  ['pid', 'BIGINT'],
  ['result', 'TEXT'],
  ['reason', 'TEXT'],
];

/** The active counts of a pipeline (running, queued), as scheduleRun's statements read them. */
const ACTIVE_COUNTS = `SELECT COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS active_running,
                    COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS active_queued
               FROM runs WHERE pipeline = CAST(@pipeline AS TEXT) AND state IN ('running', 'queued')`;

/**
 * scheduleRun's INSERT … SELECT: the run inserted unless the overlap policy has no room or the
 * pipeline is paused, claimed when it has a free slot and nothing queued, the conflict on the
 * logical date's key left alone; RETURNING the row made. On its own (SQLite, and PostgreSQL's
 * plain path) and as scheduleFirstSql's `ins`.
 */
const SCHEDULE_INSERT = `INSERT INTO runs (id, pipeline, logical_date, trigger_kind, state, params, reason, fired_at, queued_at, started_at, owner_pid, owner, rerun, attempt_of)
     SELECT CAST(@id AS TEXT), CAST(@pipeline AS TEXT), CAST(@logical_date AS BIGINT), CAST(@trigger_kind AS TEXT),
            CASE WHEN c.active_running < CAST(@max_active AS BIGINT) AND c.active_queued = 0 THEN 'running' ELSE 'queued' END,
            CAST(@params AS TEXT), NULL, CAST(@fired_at AS BIGINT), CAST(@queued_at AS BIGINT),
            CASE WHEN c.active_running < CAST(@max_active AS BIGINT) AND c.active_queued = 0 THEN CAST(@now AS BIGINT) ELSE NULL END,
            CASE WHEN c.active_running < CAST(@max_active AS BIGINT) AND c.active_queued = 0 THEN CAST(@owner_pid AS BIGINT) ELSE NULL END,
            CASE WHEN c.active_running < CAST(@max_active AS BIGINT) AND c.active_queued = 0 THEN CAST(@owner AS TEXT) ELSE NULL END,
            0, NULL
       FROM (${ACTIVE_COUNTS}) c
      WHERE (CAST(@room AS BIGINT) IS NULL OR c.active_running + c.active_queued < CAST(@room AS BIGINT))
        AND NOT (CAST(@skip_paused AS INTEGER) = 1 AND EXISTS (SELECT 1 FROM pipeline_state p WHERE p.pipeline = CAST(@pipeline AS TEXT) AND p.paused = 1))
     ON CONFLICT (pipeline, logical_date) WHERE rerun = 0 DO NOTHING
     RETURNING *`;

/**
 * PostgreSQL only (data-modifying CTEs): scheduleRun's INSERT … SELECT (`ins`), the task rows
 * and attempt rows inserted only when `ins` inserted the run running (a run that existed, or one
 * created queued, gets none), and one row back: the run made (`created` 1), else the look-up of
 * why not — the logical date's run as it was before the statement, the active counts, the pause
 * (the statement's snapshot: what `ins` saw). The upserts are upsertTask's and startAttempt's.
 */
function scheduleFirstSql(tasks: number, attempts: number): string {
  const claimed = `EXISTS (SELECT 1 FROM ins WHERE ins.state = 'running')`;
  const taskRows = Array.from({ length: tasks }, (_, i) => `(CAST(@id AS TEXT), ${TASK_TYPES.map(([c, type]) => `CAST(@t${i}_${c} AS ${type})`).join(', ')})`).join(
    ',\n              ',
  );
  const attemptRows = Array.from(
    { length: attempts },
    (_, i) => `(CAST(@id AS TEXT), CAST(@a${i}_task_id AS TEXT), CAST(@a${i}_try_number AS INTEGER), 'running', CAST(@a${i}_started_at AS BIGINT))`,
  ).join(',\n              ');
  const ctes = [
    `ins AS (
     ${SCHEDULE_INSERT})`,
  ];
  if (tasks > 0)
    ctes.push(`first_tasks AS (
     INSERT INTO task_instances (run_id, task_id, state, try_number, max_tries, started_at, ended_at, next_try_at, pid, result, reason)
     SELECT v.* FROM (VALUES ${taskRows}) AS v (run_id, task_id, state, try_number, max_tries, started_at, ended_at, next_try_at, pid, result, reason)
      WHERE ${claimed}
     ON CONFLICT (run_id, task_id) DO UPDATE SET state = excluded.state, try_number = excluded.try_number, max_tries = excluded.max_tries,
       started_at = excluded.started_at, ended_at = excluded.ended_at, next_try_at = excluded.next_try_at, pid = excluded.pid,
       result = excluded.result, reason = excluded.reason)`);
  if (attempts > 0)
    ctes.push(`first_attempts AS (
     INSERT INTO task_attempts (run_id, task_id, try_number, state, started_at)
     SELECT v.* FROM (VALUES ${attemptRows}) AS v (run_id, task_id, try_number, state, started_at)
      WHERE ${claimed}
     ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = 'running', started_at = excluded.started_at, ended_at = NULL, error = NULL, exit_code = NULL)`);
  return `WITH ${ctes.join(',\n  ')}
  SELECT 1 AS created, CAST(NULL AS BIGINT) AS active_running, CAST(NULL AS BIGINT) AS active_queued, CAST(NULL AS INTEGER) AS pipeline_paused, ins.* FROM ins
  UNION ALL
  SELECT 0, c.active_running, c.active_queued, (SELECT p.paused FROM pipeline_state p WHERE p.pipeline = CAST(@pipeline AS TEXT)), r.*
    FROM (${ACTIVE_COUNTS}) c
    LEFT JOIN runs r ON r.pipeline = CAST(@pipeline AS TEXT) AND r.logical_date = CAST(@logical_date AS BIGINT) AND r.rerun = 0
   WHERE NOT EXISTS (SELECT 1 FROM ins)`;
}

export function createRunStore(db: SqliteDatabase): RunStore {
  // Statements built per call (filters, column sets) are prepared once per distinct SQL text:
  // preparing showed in the scheduler's CPU profile (bench scenario 1).
  const prepared = new Map<string, SqlStatement<unknown[]>>();
  const stmt = (sql: string): SqlStatement<unknown[]> => {
    let s = prepared.get(sql);
    if (!s) prepared.set(sql, (s = db.prepare<unknown[]>(sql)));
    return s;
  };
  const insertStmt = db.prepare(
    `INSERT INTO runs (id, pipeline, logical_date, trigger_kind, state, params, reason, fired_at, queued_at, rerun, attempt_of)
     VALUES (@id, @pipeline, @logical_date, @trigger_kind, @state, @params, @reason, @fired_at, @queued_at, @rerun, @attempt_of)
     ON CONFLICT (pipeline, logical_date) WHERE rerun = 0 DO NOTHING`,
  );
  const getStmt = db.prepare('SELECT * FROM runs WHERE id = ?');
  const findStmt = db.prepare('SELECT * FROM runs WHERE pipeline = ? AND logical_date = ? AND rerun = 0');
  const claimStmt = db.prepare(`UPDATE runs SET state = 'running', owner_pid = ?, owner = ?, started_at = COALESCE(started_at, ?) WHERE id = ? AND state = 'queued'`);
  const listTasksStmt = db.prepare('SELECT * FROM task_instances WHERE run_id = ? ORDER BY rowid');
  const getTaskStmt = db.prepare('SELECT * FROM task_instances WHERE run_id = ? AND task_id = ?');
  const upsertTaskStmt = db.prepare(
    `INSERT INTO task_instances (run_id, task_id, state, try_number, max_tries, started_at, ended_at, next_try_at, pid, result, reason)
     VALUES (@run_id, @task_id, @state, @try_number, @max_tries, @started_at, @ended_at, @next_try_at, @pid, @result, @reason)
     ON CONFLICT (run_id, task_id) DO UPDATE SET state = excluded.state, try_number = excluded.try_number, max_tries = excluded.max_tries,
       started_at = excluded.started_at, ended_at = excluded.ended_at, next_try_at = excluded.next_try_at, pid = excluded.pid,
       result = excluded.result, reason = excluded.reason`,
  );
  const startAttemptStmt = db.prepare(
    `INSERT INTO task_attempts (run_id, task_id, try_number, state, started_at) VALUES (?, ?, ?, 'running', ?)
     ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = 'running', started_at = excluded.started_at, ended_at = NULL, error = NULL, exit_code = NULL`,
  );
  const saveLogStmt = db.prepare(
    `INSERT INTO task_logs (run_id, task_id, try_number, content, truncated_bytes) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET content = excluded.content, truncated_bytes = excluded.truncated_bytes`,
  );

  const upsertTaskRow = (t: TaskInstanceRecord): void => {
    runLater(upsertTaskStmt, { run_id: t.runId, ...taskValues(t) });
  };

  // the common case in one statement (one round trip)
  const scheduleInsertStmt = db.prepare(SCHEDULE_INSERT);
  // why nothing was inserted: the logical date's run (r.*, null columns when none), the active counts, the pause
  const scheduleLookupStmt = db.prepare(
    `SELECT c.active_running, c.active_queued, (SELECT p.paused FROM pipeline_state p WHERE p.pipeline = ?) AS pipeline_paused, r.* FROM
       (SELECT COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS active_running,
               COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS active_queued
          FROM runs WHERE pipeline = ? AND state IN ('running', 'queued')) c
       LEFT JOIN runs r ON r.pipeline = ? AND r.logical_date = ? AND r.rerun = 0`,
  );
  const scheduleRunFn = (run: NewRun, options: ScheduleRunOptions): ScheduledRun => {
    const row = scheduleInsertStmt.get(scheduleParams(run, options)) as RunRow | undefined;
    if (row) return { outcome: 'created', run: toRun(row), claimed: row.state === 'running' };
    return notScheduled(run, options, scheduleLookupStmt.get(run.pipeline, run.pipeline, run.pipeline, run.logicalDate) as LookupRow | undefined);
  };
  type LookupRow = RunRow & { id: string | null; active_running: number | null; active_queued: number | null; pipeline_paused: number | null };
  /** Why nothing was inserted, from the look-up's row (the logical date's run, the active counts, the pause). */
  const notScheduled = (run: NewRun, options: ScheduleRunOptions, found: LookupRow | undefined): ScheduledRun => {
    if (found?.id) return { outcome: 'exists', run: toRun(found) };
    if (options.skipPaused && Number(found?.pipeline_paused ?? 0) === 1) return { outcome: 'paused' };
    const active = Number(found?.active_running ?? 0) + Number(found?.active_queued ?? 0);
    if (options.room !== null && active >= options.room) return { outcome: 'no_room', active };
    // the logical date's run was inserted by another process since (and is not visible to this statement's snapshot yet)
    const existing = findStmt.get(run.pipeline, run.logicalDate) as RunRow | undefined;
    if (existing) return { outcome: 'exists', run: toRun(existing) };
    throw new Error(`the run of ${run.pipeline} at ${new Date(run.logicalDate).toISOString()} was neither created nor found`);
  };
  const scheduleParams = (run: NewRun, options: ScheduleRunOptions): Record<string, unknown> => {
    const claim = options.claim;
    return {
      id: run.id ?? makeRunId(run.pipeline, run.kind, run.logicalDate),
      pipeline: run.pipeline,
      logical_date: run.logicalDate,
      trigger_kind: run.kind,
      params: JSON.stringify(run.params ?? {}),
      fired_at: run.firedAt,
      queued_at: run.queuedAt,
      // no claim: a bound no running count is below
      max_active: claim ? claim.maxActive : 0,
      now: claim ? claim.now : null,
      owner_pid: claim ? claim.pid : null,
      owner: claim ? claim.owner : null,
      room: options.room,
      skip_paused: options.skipPaused ? 1 : 0,
    };
  };
  const scheduleRun = Object.assign(db.transaction(scheduleRunFn), { inside: scheduleRunFn });

  // SQLite: scheduleRun's statements, then the first writes beside a run created claimed
  const scheduleFirstSqlite = (run: NewRun & { id: string }, options: ScheduleRunOptions, first: FirstWrites): ScheduledRun => {
    const out = scheduleRunFn(run, options);
    if (out.outcome === 'created' && out.claimed) {
      for (const t of first.tasks) upsertTaskRow(t);
      for (const a of first.attempts) runLater(startAttemptStmt, run.id, a.taskId, a.tryNumber, a.startedAt);
    }
    return out;
  };
  const scheduleFirstSqliteTx = db.transaction(scheduleFirstSqlite);
  // PostgreSQL: one statement per shape (how many task rows and attempt rows), prepared once
  const firstStmts = new Map<string, SqlStatement<[Record<string, unknown>]>>();
  const firstStmt = (tasks: number, attempts: number): SqlStatement<[Record<string, unknown>]> => {
    const key = `${tasks}:${attempts}`;
    let s = firstStmts.get(key);
    if (!s) firstStmts.set(key, (s = db.prepare<[Record<string, unknown>]>(scheduleFirstSql(tasks, attempts))));
    return s;
  };
  const scheduleFirstPostgres = (run: NewRun & { id: string }, options: ScheduleRunOptions, first: FirstWrites): (() => ScheduledRun) => {
    const values = scheduleParams(run, options);
    first.tasks.forEach((t, i) => {
      if (t.runId !== run.id) throw new Error(`scheduleFirst: task row ${t.taskId} is for run ${t.runId}, not ${run.id}`);
      Object.assign(values, prefixed(`t${i}_`, taskValues(t)));
    });
    first.attempts.forEach((a, i) => Object.assign(values, { [`a${i}_task_id`]: a.taskId, [`a${i}_try_number`]: a.tryNumber, [`a${i}_started_at`]: a.startedAt }));
    const answer = getLater(firstStmt(first.tasks.length, first.attempts.length), values);
    return () => {
      const row = answer() as (LookupRow & { created: number }) | undefined;
      if (row && Number(row.created) === 1) return { outcome: 'created', run: toRun(row), claimed: row.state === 'running' };
      return notScheduled(run, options, row);
    };
  };

  const insertRun = db.transaction((run: NewRun): { run: RunRecord; created: boolean } => {
    const rerun = run.rerun === true;
    const existing = run.detached ? undefined : (findStmt.get(run.pipeline, run.logicalDate) as RunRow | undefined);
    if (existing && !rerun) return { run: toRun(existing), created: false };
    const second = run.detached === true || (rerun && existing !== undefined);
    const id = run.id ?? makeRunId(run.pipeline, run.kind, run.logicalDate, second);
    const inserted = insertStmt.run({
      id,
      pipeline: run.pipeline,
      logical_date: run.logicalDate,
      trigger_kind: run.kind,
      state: run.state ?? 'queued',
      params: JSON.stringify(run.params ?? {}),
      reason: run.reason ?? null,
      fired_at: run.firedAt,
      queued_at: run.queuedAt,
      // Only a second run of a logical date is a "rerun" row; the first one holds the key.
      rerun: second ? 1 : 0,
      attempt_of: rerun && existing ? existing.id : null,
    });
    // another process inserted the logical date's run since the look-up (PostgreSQL: replicas
    // share the store and BEGIN takes no lock; SQLite's BEGIN IMMEDIATE rules this out)
    if (inserted.changes === 0) return { run: toRun(findStmt.get(run.pipeline, run.logicalDate) as RunRow), created: false };
    return { run: toRun(getStmt.get(id) as RunRow), created: true };
  });

  return {
    insertRun: (run) => insertRun.immediate(run),
    // inside a transaction (the leader's fenced one) both are part of it: no savepoint of their own
    scheduleRun: (run, options) => (db.inTransaction ? scheduleRun.inside(run, options) : scheduleRun.immediate(run, options)),
    scheduleFirst: (run, options, first) => {
      if (dialectOf(db) === 'postgres') {
        // outside a transaction: its own, the statement sent with its COMMIT
        return db.inTransaction ? scheduleFirstPostgres(run, options, first) : db.transaction(() => scheduleFirstPostgres(run, options, first)).immediate();
      }
      const out = db.inTransaction ? scheduleFirstSqlite(run, options, first) : scheduleFirstSqliteTx.immediate(run, options, first);
      return () => out;
    },
    atomically: <T>(fn: () => T): T => (db.inTransaction ? fn() : db.transaction(fn).immediate()),
    getRun: (id) => {
      const row = getStmt.get(id) as RunRow | undefined;
      return row ? toRun(row) : null;
    },
    findRun: (pipeline, logicalDate) => {
      const row = findStmt.get(pipeline, logicalDate) as RunRow | undefined;
      return row ? toRun(row) : null;
    },
    listRuns: (filter = {}) => {
      const where: string[] = [];
      const values: unknown[] = [];
      if (filter.pipeline !== undefined) {
        where.push('pipeline = ?');
        values.push(filter.pipeline);
      }
      if (filter.state !== undefined) {
        const states = typeof filter.state === 'string' ? [filter.state] : [...filter.state];
        where.push(`state IN (${states.map(() => '?').join(', ')})`);
        values.push(...states);
      }
      if (filter.kind !== undefined) {
        where.push('trigger_kind = ?');
        values.push(filter.kind);
      }
      if (filter.from !== undefined) {
        where.push('logical_date >= ?');
        values.push(filter.from);
      }
      if (filter.to !== undefined) {
        where.push('logical_date <= ?');
        values.push(filter.to);
      }
      const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY queued_at DESC, rowid DESC LIMIT ?`;
      return (stmt(sql).all(...values, filter.limit ?? 1000) as RunRow[]).map(toRun);
    },
    countByPipeline: (states) => {
      const rows = stmt(`SELECT pipeline, COUNT(*) AS n FROM runs WHERE state IN (${states.map(() => '?').join(', ')}) GROUP BY pipeline`).all(...states) as Array<{
        pipeline: string;
        n: number;
      }>;
      return new Map(rows.map((r) => [r.pipeline, r.n]));
    },
    countRuns: (pipeline, states) => {
      const row = stmt(`SELECT COUNT(*) AS n FROM runs WHERE pipeline = ? AND state IN (${states.map(() => '?').join(', ')})`).get(pipeline, ...states) as { n: number };
      return row.n;
    },
    listQueued: ({ after, limit, pipelines, kinds }) => {
      const where = [`state = 'queued'`];
      const values: unknown[] = [];
      if (after) {
        where.push('(queued_at > ? OR (queued_at = ? AND id > ?))');
        values.push(after.queuedAt, after.queuedAt, after.id);
      }
      if (pipelines !== undefined || kinds !== undefined) {
        const either: string[] = [];
        if (pipelines?.length) {
          either.push(`pipeline IN (${pipelines.map(() => '?').join(', ')})`);
          values.push(...pipelines);
        }
        if (kinds?.length) {
          either.push(`trigger_kind IN (${kinds.map(() => '?').join(', ')})`);
          values.push(...kinds);
        }
        if (either.length === 0) return [];
        where.push(`(${either.join(' OR ')})`);
      }
      const sql = `SELECT * FROM runs WHERE ${where.join(' AND ')} ORDER BY queued_at, id LIMIT ?`;
      return (stmt(sql).all(...values, limit) as RunRow[]).map(toRun);
    },
    claimRun: (id, pid, now, owner) => claimStmt.run(pid, owner ?? null, now, id).changes === 1,
    updateRun: (id, patch) => {
      const { sets, values } = patchSql(withOwner(patch), RUN_COLUMNS);
      if (sets) runLater(stmt(`UPDATE runs SET ${sets} WHERE id = ?`), ...values, id);
    },
    transitionRun: (id, from, patch, owner) => {
      const { sets, values } = patchSql(withOwner(patch), RUN_COLUMNS);
      if (!sets || from.length === 0) return false;
      const byOwner = owner === undefined ? '' : owner === null ? ' AND owner IS NULL' : ' AND owner = ?';
      const ownerValue = owner === undefined || owner === null ? [] : [owner];
      return stmt(`UPDATE runs SET ${sets} WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})${byOwner}`).run(...values, id, ...from, ...ownerValue).changes === 1;
    },
    ownersOf: (ids) => {
      const out = new Map<string, string | null>();
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = stmt(`SELECT id, owner FROM runs WHERE id IN (${chunk.map(() => '?').join(', ')})`).all(...chunk) as Array<{ id: string; owner: string | null }>;
        for (const r of rows) out.set(r.id, r.owner ?? null);
      }
      return out;
    },
    listRequested: (pid, owner) =>
      (
        (owner === undefined
          ? stmt(`SELECT * FROM runs WHERE state = 'running' AND owner_pid = ? AND requested_state IS NOT NULL`).all(pid)
          : stmt(`SELECT * FROM runs WHERE state = 'running' AND owner = ? AND requested_state IS NOT NULL`).all(owner)) as RunRow[]
      ).map(toRun),
    lastLogicalDate: (pipeline, kinds) => {
      const ks = kinds ?? [];
      const sql = `SELECT MAX(logical_date) AS d FROM runs WHERE pipeline = ?${ks.length ? ` AND trigger_kind IN (${ks.map(() => '?').join(', ')})` : ''}`;
      const row = stmt(sql).get(pipeline, ...ks) as { d: number | null };
      return row.d;
    },
    lastSuccess: (pipeline) => {
      const row = stmt(`SELECT * FROM runs WHERE pipeline = ? AND state = 'success' ORDER BY ended_at DESC LIMIT 1`).get(pipeline) as RunRow | undefined;
      return row ? toRun(row) : null;
    },
    deleteRun: (id) => {
      db.transaction(() => {
        stmt('DELETE FROM task_logs WHERE run_id = ?').run(id);
        stmt('DELETE FROM task_attempts WHERE run_id = ?').run(id);
        stmt('DELETE FROM task_instances WHERE run_id = ?').run(id);
        stmt('DELETE FROM task_queue WHERE run_id = ?').run(id);
        stmt('DELETE FROM runs WHERE id = ?').run(id);
      })();
    },

    listTasks: (runId) => (listTasksStmt.all(runId) as TaskRow[]).map(toTask),
    getTask: (runId, taskId) => {
      const row = getTaskStmt.get(runId, taskId) as TaskRow | undefined;
      return row ? toTask(row) : null;
    },
    upsertTask: (t) => upsertTaskRow(t),
    updateTask: (runId, taskId, patch) => {
      const { sets, values } = patchSql(patch, TASK_COLUMNS);
      if (sets) runLater(stmt(`UPDATE task_instances SET ${sets} WHERE run_id = ? AND task_id = ?`), ...values, runId, taskId);
    },

    startAttempt: (a) => {
      runLater(startAttemptStmt, a.runId, a.taskId, a.tryNumber, a.startedAt);
    },
    updateAttempt: (runId, taskId, tryNumber, patch) => {
      const { sets, values } = patchSql(patch, ATTEMPT_COLUMNS);
      if (sets) runLater(stmt(`UPDATE task_attempts SET ${sets} WHERE run_id = ? AND task_id = ? AND try_number = ?`), ...values, runId, taskId, tryNumber);
    },
    listAttempts: (runId, taskId) => {
      const rows =
        taskId === undefined
          ? stmt('SELECT * FROM task_attempts WHERE run_id = ? ORDER BY started_at, try_number').all(runId)
          : stmt('SELECT * FROM task_attempts WHERE run_id = ? AND task_id = ? ORDER BY try_number').all(runId, taskId);
      return (rows as AttemptRow[]).map(toAttempt);
    },

    saveLog: (log) => {
      runLater(saveLogStmt, log.runId, log.taskId, log.tryNumber, log.content, log.truncatedBytes);
    },
    getLogs: (runId, taskId) => {
      const rows =
        taskId === undefined
          ? stmt('SELECT * FROM task_logs WHERE run_id = ? ORDER BY rowid').all(runId)
          : stmt('SELECT * FROM task_logs WHERE run_id = ? AND task_id = ? ORDER BY try_number').all(runId, taskId);
      return (rows as Array<{ run_id: string; task_id: string; try_number: number; content: string; truncated_bytes: number }>).map((r) => ({
        runId: r.run_id,
        taskId: r.task_id,
        tryNumber: r.try_number,
        content: r.content,
        truncatedBytes: r.truncated_bytes,
      }));
    },
  };
}
