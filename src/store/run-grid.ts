/**
 * The web UI's run history: one page of a pipeline's runs with each run's task states, newest
 * first, by keyset (queued time, then id) — never by OFFSET, so the 200th page costs what the
 * first does. Runs are read through the `runs_pipeline_queued` index; the page's task
 * instances through their primary key (run_id, task_id), in one query.
 */
import type { SqliteDatabase } from './database';
import type { SqlStatement as Statement } from './sql';

export interface GridCursor {
  queuedAt: number;
  id: string;
}

export interface GridTask {
  state: string;
  tryNumber: number;
  startedAt: number | null;
  endedAt: number | null;
}

export interface GridRun {
  id: string;
  logicalDate: number;
  kind: string;
  state: string;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  reason: string | null;
  tasks: Record<string, GridTask>;
}

export interface GridPageQuery {
  pipeline: string;
  limit: number;
  before?: GridCursor;
  states?: readonly string[];
  kinds?: readonly string[];
}

export interface GridPage {
  runs: GridRun[];
  /** Cursor of the next (older) page, null on the last one. */
  next: GridCursor | null;
}

interface RunRow {
  id: string;
  logical_date: number;
  trigger_kind: string;
  state: string;
  queued_at: number;
  started_at: number | null;
  ended_at: number | null;
  reason: string | null;
}

interface TaskRow {
  run_id: string;
  task_id: string;
  state: string;
  try_number: number;
  started_at: number | null;
  ended_at: number | null;
}

/** Cursor as text (`<queuedAt>~<id>`), for query strings; null when malformed. */
export function parseGridCursor(text: string): GridCursor | null {
  const m = /^(\d{1,16})~(.{1,400})$/.exec(text);
  return m ? { queuedAt: Number(m[1]), id: m[2]! } : null;
}
export const formatGridCursor = (c: GridCursor): string => `${c.queuedAt}~${c.id}`;

export function createRunGridStore(db: SqliteDatabase) {
  // one prepared statement per distinct filter shape (few: the UI's filters are fixed sets)
  const cache = new Map<string, Statement<unknown[]>>();
  const stmt = (sql: string): Statement<unknown[]> => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = db.prepare<unknown[]>(sql)));
    return s;
  };
  return {
    page(q: GridPageQuery): GridPage {
      const where = ['pipeline = ?'];
      const args: unknown[] = [q.pipeline];
      if (q.before) {
        where.push('(queued_at < ? OR (queued_at = ? AND id < ?))');
        args.push(q.before.queuedAt, q.before.queuedAt, q.before.id);
      }
      if (q.states?.length) {
        where.push(`state IN (${q.states.map(() => '?').join(', ')})`);
        args.push(...q.states);
      }
      if (q.kinds?.length) {
        where.push(`trigger_kind IN (${q.kinds.map(() => '?').join(', ')})`);
        args.push(...q.kinds);
      }
      const rows = stmt(
        `SELECT id, logical_date, trigger_kind, state, queued_at, started_at, ended_at, reason FROM runs
         WHERE ${where.join(' AND ')} ORDER BY queued_at DESC, id DESC LIMIT ?`,
      ).all(...args, q.limit + 1) as RunRow[];
      const more = rows.length > q.limit;
      const page = rows.slice(0, q.limit);
      const byId = new Map<string, GridRun>();
      const runs = page.map((r) => {
        const run: GridRun = {
          id: r.id,
          logicalDate: r.logical_date,
          kind: r.trigger_kind,
          state: r.state,
          queuedAt: r.queued_at,
          startedAt: r.started_at,
          endedAt: r.ended_at,
          reason: r.reason,
          tasks: {},
        };
        byId.set(r.id, run);
        return run;
      });
      if (page.length > 0) {
        const tasks = stmt(`SELECT run_id, task_id, state, try_number, started_at, ended_at FROM task_instances WHERE run_id IN (${page.map(() => '?').join(', ')})`).all(
          ...page.map((r) => r.id),
        ) as TaskRow[];
        for (const t of tasks) {
          const run = byId.get(t.run_id);
          if (run) run.tasks[t.task_id] = { state: t.state, tryNumber: t.try_number, startedAt: t.started_at, endedAt: t.ended_at };
        }
      }
      const last = page[page.length - 1];
      return { runs, next: more && last ? { queuedAt: last.queued_at, id: last.id } : null };
    },
  };
}

export type RunGridStore = ReturnType<typeof createRunGridStore>;
