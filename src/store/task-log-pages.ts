/**
 * Byte-addressed reads of stored task logs, for the UI's log view: the tail first, pages back
 * by byte offset, and what was appended since an offset (live follow).
 *
 * Offsets are absolute bytes of the attempt's whole output: the runner keeps the TAIL of a log
 * over its cap, records how many bytes it dropped (`truncated_bytes`) and prefixes the stored
 * text with one marker line. Byte `truncated_bytes` is the first stored byte of output, so an
 * offset keeps naming the same byte while the head is dropped. Slicing is done by SQLite on
 * the blob: a 50 MB log is never copied into JavaScript whole to read its tail.
 */
import type { SqliteDatabase } from './database';
import { dialectOf } from './sql';

export interface LogMeta {
  tryNumber: number;
  /** First absolute offset still stored. */
  start: number;
  /** Absolute offset just past the last stored byte. */
  size: number;
  truncatedBytes: number;
  /** Length in bytes of the marker line the runner put before the stored output. */
  markerBytes: number;
}

export interface LogPage {
  start: number;
  end: number;
  text: string;
}

const MARKER = /^\[… \d+ bytes truncated, tail kept …\]\n/;

export function createTaskLogReader(db: SqliteDatabase) {
  // the content's UTF-8 bytes, sliced by the server (PostgreSQL: bytea from convert_to)
  const pg = dialectOf(db) === 'postgres';
  // octet_length() of a TEXT column is answered without reading the value (SQLite ≥ 3.43, PostgreSQL)
  const byteLength = 'octet_length(content)';
  const byteSlice = (from: string, count: string): string =>
    pg ? `substring(convert_to(content, 'UTF8') from ${from} for ${count})` : `substr(CAST(content AS BLOB), ${from}, ${count})`;
  // the head (the marker line) is read only when the runner dropped bytes, i.e. of a log at its cap
  const metaStmt = db.prepare<[string, string, number], { try_number: number; truncated_bytes: number; n: number }>(
    `SELECT try_number, truncated_bytes, ${byteLength} AS n FROM task_logs WHERE run_id = ? AND task_id = ? AND try_number = ?`,
  );
  const headStmt = db.prepare<[string, string, number], { head: string | null }>(
    'SELECT substr(content, 1, 96) AS head FROM task_logs WHERE run_id = ? AND task_id = ? AND try_number = ?',
  );
  const triesStmt = db.prepare<[string, string, string, string], { try_number: number }>(
    `SELECT try_number FROM task_logs WHERE run_id = ? AND task_id = ?
     UNION SELECT try_number FROM task_attempts WHERE run_id = ? AND task_id = ? ORDER BY try_number`,
  );
  const sliceStmt = db.prepare<[number, number, string, string, number], { b: Buffer | null }>(
    `SELECT ${byteSlice('?', '?')} AS b FROM task_logs WHERE run_id = ? AND task_id = ? AND try_number = ?`,
  );
  const fullStmt = db.prepare<[string, string, number], { content: string }>('SELECT content FROM task_logs WHERE run_id = ? AND task_id = ? AND try_number = ?');
  const endedStmt = db.prepare<[string, string, number], { ended_at: number | null }>('SELECT ended_at FROM task_attempts WHERE run_id = ? AND task_id = ? AND try_number = ?');

  const meta = (runId: string, taskId: string, tryNumber: number): LogMeta | null => {
    const r = metaStmt.get(runId, taskId, tryNumber);
    if (!r) return null;
    const head = r.truncated_bytes > 0 ? (headStmt.get(runId, taskId, tryNumber)?.head ?? '') : '';
    const m = r.truncated_bytes > 0 ? MARKER.exec(head) : null;
    const markerBytes = m ? Buffer.byteLength(m[0]) : 0;
    return { tryNumber: r.try_number, start: r.truncated_bytes, size: r.truncated_bytes + r.n - markerBytes, truncatedBytes: r.truncated_bytes, markerBytes };
  };

  /** Raw bytes [from, to) (absolute), clamped to what is stored. */
  const bytes = (runId: string, taskId: string, m: LogMeta, from: number, to: number): { start: number; buf: Buffer } => {
    const a = Math.max(from, m.start);
    const b = Math.min(to, m.size);
    if (b <= a) return { start: a, buf: Buffer.alloc(0) };
    const row = sliceStmt.get(m.markerBytes + (a - m.start) + 1, b - a, runId, taskId, m.tryNumber);
    return { start: a, buf: row?.b ? Buffer.from(row.b) : Buffer.alloc(0) };
  };

  return {
    meta,
    /** Tries that have a log or an attempt, oldest first. */
    tries: (runId: string, taskId: string): number[] => triesStmt.all(runId, taskId, runId, taskId).map((r) => r.try_number),
    /** Whether the attempt has ended (its log will not grow any more); true when there is no such attempt. */
    attemptEnded: (runId: string, taskId: string, tryNumber: number): boolean => {
      const r = endedStmt.get(runId, taskId, tryNumber);
      return !r || r.ended_at !== null;
    },
    /**
     * At most `limit` bytes ending at `before` (the tail when absent), starting at a line
     * boundary unless it is the first stored byte.
     */
    pageBefore(runId: string, taskId: string, m: LogMeta, before: number | undefined, limit: number): LogPage {
      const end = Math.min(before ?? m.size, m.size);
      const { start, buf } = bytes(runId, taskId, m, end - limit, end);
      let cut = 0;
      if (start > m.start) {
        const nl = buf.indexOf(0x0a);
        cut = nl >= 0 && nl < buf.length - 1 ? nl + 1 : 0;
      }
      return { start: start + cut, end: start + buf.length, text: buf.subarray(cut).toString('utf8') };
    },
    /** What was written at or after `from`, up to `limit` bytes, ending at the last complete line when more follows. */
    pageAfter(runId: string, taskId: string, m: LogMeta, from: number, limit: number): LogPage {
      const { start, buf } = bytes(runId, taskId, m, from, from + limit);
      let keep = buf.length;
      if (start + buf.length < m.size) {
        const nl = buf.lastIndexOf(0x0a);
        if (nl >= 0) keep = nl + 1;
      }
      return { start, end: start + keep, text: buf.subarray(0, keep).toString('utf8') };
    },
    full: (runId: string, taskId: string, tryNumber: number): string | null => fullStmt.get(runId, taskId, tryNumber)?.content ?? null,
  };
}

export type TaskLogReader = ReturnType<typeof createTaskLogReader>;
