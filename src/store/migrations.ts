/**
 * Versioned schema migrations for the SQLite state store. Append new migrations; never edit
 * one that has shipped. `PRAGMA user_version` records the applied version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        pipeline TEXT NOT NULL,
        logical_date INTEGER NOT NULL,
        trigger_kind TEXT NOT NULL,
        state TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        reason TEXT,
        fired_at INTEGER NOT NULL,
        queued_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        owner_pid INTEGER,
        attempt_of TEXT,
        rerun INTEGER NOT NULL DEFAULT 0
      );
      -- one active (non-rerun) run per (pipeline, logical date): the idempotency key
      CREATE UNIQUE INDEX runs_pipeline_date ON runs(pipeline, logical_date) WHERE rerun = 0;
      CREATE INDEX runs_state ON runs(state);
      CREATE INDEX runs_pipeline_queued ON runs(pipeline, queued_at DESC);

      CREATE TABLE task_instances (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        state TEXT NOT NULL,
        try_number INTEGER NOT NULL DEFAULT 0,
        max_tries INTEGER NOT NULL DEFAULT 1,
        started_at INTEGER,
        ended_at INTEGER,
        next_try_at INTEGER,
        pid INTEGER,
        result TEXT,
        reason TEXT,
        PRIMARY KEY (run_id, task_id)
      );

      CREATE TABLE task_attempts (
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        try_number INTEGER NOT NULL,
        state TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        pid INTEGER,
        exit_code INTEGER,
        error TEXT,
        PRIMARY KEY (run_id, task_id, try_number)
      );

      CREATE TABLE task_logs (
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        try_number INTEGER NOT NULL,
        content TEXT NOT NULL,
        truncated_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, task_id, try_number)
      );

      CREATE TABLE variables (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE alerts (
        key TEXT PRIMARY KEY,
        rule TEXT NOT NULL,
        record TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        matchers TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        comment TEXT NOT NULL
      );

      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sink TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        notification TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER,
        last_error TEXT,
        UNIQUE (sink, dedup_key)
      );
      CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL,
        read_only INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
    `,
  },
  {
    version: 2,
    name: 'operations: pause state, audit trail, operator requests on runs',
    sql: `
      -- paused state per pipeline (survives restarts; the config's \`paused\` is only the initial value)
      CREATE TABLE pipeline_state (
        pipeline TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0,
        changed_at INTEGER,
        changed_by TEXT,
        reason TEXT,
        -- when this store first saw the pipeline: deadlines and missed ticks are not looked for before it
        first_seen_at INTEGER NOT NULL,
        -- the last unpause: ticks while paused are neither missed nor late
        unpaused_at INTEGER
      );

      -- who did what, when and why: pause, unpause, cancel, clear, mark, trigger, backfill
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        pipeline TEXT,
        run_id TEXT,
        task_id TEXT,
        reason TEXT,
        details TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_run ON audit_log(run_id, id);
      CREATE INDEX audit_pipeline ON audit_log(pipeline, id);

      -- an operator's request to the process executing a run: cancel it, or end it in a state
      ALTER TABLE runs ADD COLUMN requested_state TEXT;
      ALTER TABLE runs ADD COLUMN requested_by TEXT;
    `,
  },
  {
    version: 3,
    name: 'leader lease (fencing epoch) and outbox claims',
    // its PostgreSQL twin is version 3 of migrations-postgres.ts
    sql: `
      -- the leader lease of replicas sharing one store (src/store/leader.ts): one row per lease
      -- name; the epoch grows by one on every change of holder, never on a renewal
      CREATE TABLE leader (
        name TEXT PRIMARY KEY,
        holder TEXT,
        expires_at BIGINT NOT NULL,
        epoch BIGINT NOT NULL
      );

      -- an outbox entry taken by one replica's worker for delivery, until claimed_until (a
      -- crashed replica's claim expires)
      ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
      ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
    `,
  },
  {
    version: 4,
    name: 'task queue of the task workers',
    sql: `
      -- task tries handed to \`supervisor worker\` processes (executor.mode workers,
      -- src/store/task-queue.ts): queued by the runner, claimed by one worker, heartbeated,
      -- finished with the outcome; cancel_requested asks the worker to stop the try
      CREATE TABLE task_queue (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        try_number INTEGER NOT NULL,
        operator TEXT NOT NULL,
        context TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued',
        claimed_by TEXT,
        claimed_at BIGINT,
        heartbeat_at BIGINT,
        pid INTEGER,
        cancel_requested TEXT,
        result TEXT,
        error TEXT,
        exit_code INTEGER,
        created_at BIGINT NOT NULL,
        ended_at BIGINT,
        UNIQUE (run_id, task_id, try_number)
      );
      CREATE INDEX task_queue_state ON task_queue(state, created_at);
    `,
  },
  {
    version: 5,
    name: 'run owner identity across hosts',
    // its PostgreSQL twin is version 5 of migrations-postgres.ts
    sql: `
      -- who executes a running run: the claiming process's id \`host:pid:random\` (a replica's
      -- lease holder id), so crash recovery and cancel judge the owner's liveness across hosts
      -- (src/engine/recovery.ts); owner_pid stays for the runs of older versions
      ALTER TABLE runs ADD COLUMN owner TEXT;
      -- the finished rows are pruned after a retention (src/store/task-queue.ts)
      CREATE INDEX task_queue_ended ON task_queue(ended_at);
      -- adoption after a failover looks a try up by its key: (run_id, task_id, try_number) is unique already
    `,
  },
];
