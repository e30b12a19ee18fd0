/**
 * The audit trail: every operation on pipelines, runs and tasks (pause, unpause, cancel,
 * clear, mark, trigger, backfill) with who did it (a token name, or `cli:<os user>`), when,
 * what and why. Append-only.
 */
import type { SqliteDatabase } from './database';
import type { SqlStatement } from './sql';

export type AuditAction = 'pause' | 'unpause' | 'cancel' | 'clear' | 'mark_run' | 'mark_task' | 'trigger' | 'backfill';

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: AuditAction;
  pipeline: string | null;
  runId: string | null;
  taskId: string | null;
  reason: string | null;
  details: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'pipeline' | 'runId' | 'taskId' | 'reason' | 'details'> &
  Partial<Pick<AuditEntry, 'pipeline' | 'runId' | 'taskId' | 'reason' | 'details'>>;

export interface AuditFilter {
  runId?: string;
  pipeline?: string;
  /** Entries with an id below this one (paging back). */
  before?: number;
  limit?: number;
}

interface Row {
  id: number;
  at: number;
  actor: string;
  action: string;
  pipeline: string | null;
  run_id: string | null;
  task_id: string | null;
  reason: string | null;
  details: string;
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const toEntry = (r: Row): AuditEntry => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action as AuditAction,
  pipeline: r.pipeline,
  runId: r.run_id,
  taskId: r.task_id,
  reason: r.reason,
  details: parseDetails(r.details),
});

export interface AuditStore {
  record(entry: NewAuditEntry): AuditEntry;
  /** Newest first. */
  list(filter?: AuditFilter): AuditEntry[];
}

export function createAuditStore(db: SqliteDatabase): AuditStore {
  const insert = db.prepare(
    'INSERT INTO audit_log (at, actor, action, pipeline, run_id, task_id, reason, details) VALUES (@at, @actor, @action, @pipeline, @run_id, @task_id, @reason, @details)',
  );
  const byId = db.prepare<[number], Row>('SELECT * FROM audit_log WHERE id = ?');
  const prepared = new Map<string, SqlStatement<unknown[], Row>>();
  const stmt = (sql: string) => {
    let s = prepared.get(sql);
    if (!s) prepared.set(sql, (s = db.prepare<unknown[], Row>(sql)));
    return s;
  };
  return {
    record: (e) => {
      const info = insert.run({
        at: e.at,
        actor: e.actor,
        action: e.action,
        pipeline: e.pipeline ?? null,
        run_id: e.runId ?? null,
        task_id: e.taskId ?? null,
        reason: e.reason ?? null,
        details: JSON.stringify(e.details ?? {}),
      });
      return toEntry(byId.get(Number(info.lastInsertRowid))!);
    },
    list: (filter = {}) => {
      const where: string[] = [];
      const values: unknown[] = [];
      if (filter.runId !== undefined) {
        where.push('run_id = ?');
        values.push(filter.runId);
      }
      if (filter.pipeline !== undefined) {
        where.push('pipeline = ?');
        values.push(filter.pipeline);
      }
      if (filter.before !== undefined) {
        where.push('id < ?');
        values.push(filter.before);
      }
      const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return stmt(sql)
        .all(...values, Math.min(Math.max(filter.limit ?? 100, 1), 1000))
        .map(toEntry);
    },
  };
}
