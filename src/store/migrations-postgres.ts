/**
 * The PostgreSQL twin of every SQLite migration in migrations.ts, version for version: the same
 * tables, columns and indexes. Append a twin with each new SQLite migration (a unit test holds
 * this); never edit one that has shipped. The table `schema_migrations` records the applied
 * versions (SQLite's `PRAGMA user_version`).
 *
 * Translation rules: epoch milliseconds and other integers are BIGINT (read back as numbers, see
 * postgres/worker.ts), `INTEGER PRIMARY KEY AUTOINCREMENT` is BIGSERIAL, text stays TEXT. Tables
 * whose stores order by SQLite's implicit `rowid` get an explicit `rowid BIGSERIAL` column, so
 * `ORDER BY rowid` means insertion order in both dialects.
 */
import type { Migration } from './migrations';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        pipeline TEXT NOT NULL,
        logical_date BIGINT NOT NULL,
        trigger_kind TEXT NOT NULL,
        state TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        reason TEXT,
        fired_at BIGINT NOT NULL,
        queued_at BIGINT NOT NULL,
        started_at BIGINT,
        ended_at BIGINT,
        owner_pid BIGINT,
        attempt_of TEXT,
        rerun INTEGER NOT NULL DEFAULT 0,
        rowid BIGSERIAL NOT NULL
      );
      CREATE UNIQUE INDEX runs_pipeline_date ON runs(pipeline, logical_date) WHERE rerun = 0;
      CREATE INDEX runs_state ON runs(state);
      CREATE INDEX runs_pipeline_queued ON runs(pipeline, queued_at DESC);

      CREATE TABLE task_instances (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        state TEXT NOT NULL,
        try_number INTEGER NOT NULL DEFAULT 0,
        max_tries INTEGER NOT NULL DEFAULT 1,
        started_at BIGINT,
        ended_at BIGINT,
        next_try_at BIGINT,
        pid BIGINT,
        result TEXT,
        reason TEXT,
        rowid BIGSERIAL NOT NULL,
        PRIMARY KEY (run_id, task_id)
      );

      CREATE TABLE task_attempts (
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        try_number INTEGER NOT NULL,
        state TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        ended_at BIGINT,
        pid BIGINT,
        exit_code INTEGER,
        error TEXT,
        PRIMARY KEY (run_id, task_id, try_number)
      );

      CREATE TABLE task_logs (
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        try_number INTEGER NOT NULL,
        content TEXT NOT NULL,
        truncated_bytes BIGINT NOT NULL DEFAULT 0,
        rowid BIGSERIAL NOT NULL,
        PRIMARY KEY (run_id, task_id, try_number)
      );

      CREATE TABLE variables (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      );

      CREATE TABLE alerts (
        key TEXT PRIMARY KEY,
        rule TEXT NOT NULL,
        record TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      );

      CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        matchers TEXT NOT NULL,
        starts_at BIGINT NOT NULL,
        ends_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        comment TEXT NOT NULL
      );

      CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        sink TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        notification TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        delivered_at BIGINT,
        last_error TEXT,
        UNIQUE (sink, dedup_key)
      );
      CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL,
        read_only INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      );
    `,
  },
  {
    version: 2,
    name: 'operations: pause state, audit trail, operator requests on runs',
    sql: `
      CREATE TABLE pipeline_state (
        pipeline TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0,
        changed_at BIGINT,
        changed_by TEXT,
        reason TEXT,
        first_seen_at BIGINT NOT NULL,
        unpaused_at BIGINT
      );

      CREATE TABLE audit_log (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
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

      ALTER TABLE runs ADD COLUMN requested_state TEXT;
      ALTER TABLE runs ADD COLUMN requested_by TEXT;
    `,
  },
  {
    // the twin of SQLite's migration 3 (added by the leader-lease work, src/store/leader.ts)
    version: 3,
    name: 'leader lease (fencing epoch) and outbox claims',
    sql: `
      CREATE TABLE leader (
        name TEXT PRIMARY KEY,
        holder TEXT,
        expires_at BIGINT NOT NULL,
        epoch BIGINT NOT NULL
      );

      ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
      ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
    `,
  },
  {
    // the twin of SQLite's migration 4 (src/store/task-queue.ts)
    version: 4,
    name: 'task queue of the task workers',
    sql: `
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
    // the twin of SQLite's migration 5 (src/engine/recovery.ts: run owners across hosts)
    version: 5,
    name: 'run owner identity across hosts',
    sql: `
      ALTER TABLE runs ADD COLUMN owner TEXT;
      CREATE INDEX task_queue_ended ON task_queue(ended_at);
    `,
  },
];

/** Tables with a BIGSERIAL key the stores read back as `lastInsertRowid` (`INSERT … RETURNING id`). */
export const POSTGRES_SERIAL_TABLES: ReadonlySet<string> = new Set(['outbox', 'audit_log']);
