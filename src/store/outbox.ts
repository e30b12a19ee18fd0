/** SQLite implementation of the alert outbox (table `outbox`, migration 1). */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { dialectOf, type SqlDatabase } from './sql';
import type { Notification, OutboxEntry, OutboxStore } from '../protocol';

interface Row {
  id: number;
  sink: string;
  dedup_key: string;
  notification: string;
  state: OutboxEntry['state'];
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  delivered_at: number | null;
  last_error: string | null;
}

function toEntry(row: Row): OutboxEntry {
  const entry: OutboxEntry = {
    id: row.id,
    sink: row.sink,
    dedupKey: row.dedup_key,
    notification: JSON.parse(row.notification) as Notification,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    state: row.state,
  };
  if (row.last_error !== null) entry.lastError = row.last_error;
  if (row.delivered_at !== null) entry.deliveredAt = row.delivered_at;
  return entry;
}

const MAX_ERROR_LENGTH = 1000;
/** How long a replica's claim on due entries lasts (a crashed replica's claim expires after it). */
export const OUTBOX_CLAIM_MS = 300_000;
/** Entries one claim takes at most: each may take a delivery timeout (30 s), all within the claim. */
export const OUTBOX_CLAIM_BATCH = 10;

export interface OutboxStoreOptions {
  /**
   * Claim due entries per replica (`claimed_by`/`claimed_until`; PostgreSQL: `FOR UPDATE SKIP
   * LOCKED`), so replicas sharing a store never deliver one entry at once. Default: on a
   * PostgreSQL store; a SQLite store has one daemon and reads due entries as they are.
   */
  claims?: boolean;
  /** This replica's claimer id (default host:pid:random). */
  claimer?: string;
}

export function createSqliteOutboxStore(db: SqlDatabase, options: OutboxStoreOptions = {}): OutboxStore {
  const insert = db.prepare(
    `INSERT INTO outbox (sink, dedup_key, notification, state, attempts, next_attempt_at, created_at)
     VALUES (?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (sink, dedup_key) DO NOTHING`,
  );
  const enqueueTx = db.transaction((notification: Notification, sinks: readonly string[], now: number): number[] => {
    const body = JSON.stringify(notification);
    const ids: number[] = [];
    for (const sink of new Set(sinks)) {
      const info = insert.run(sink, notification.dedupKey, body, now, now);
      if (info.changes > 0) ids.push(Number(info.lastInsertRowid));
    }
    return ids;
  });
  const dueAll = db.prepare(`SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`);
  const dueSink = db.prepare(`SELECT * FROM outbox WHERE state = 'pending' AND sink = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`);
  const postgres = dialectOf(db) === 'postgres';
  const claims = options.claims ?? postgres;
  const claimer = options.claimer ?? `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  // due entries of one sink not claimed by another replica (or whose claim expired), claimed for us
  // in one statement; PostgreSQL skips rows another replica's claim is locking right now
  const claimSink = claims
    ? db.prepare(
        `UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN (
           SELECT id FROM outbox
           WHERE state = 'pending' AND sink = ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ? OR claimed_by = ?)
           ORDER BY next_attempt_at, id LIMIT ?${postgres ? ' FOR UPDATE SKIP LOCKED' : ''}
         ) RETURNING *`,
      )
    : null;
  const release = claims ? ', claimed_by = NULL, claimed_until = NULL' : '';
  const delivered = db.prepare(`UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL${release} WHERE id = ? AND state = 'pending'`);
  const retry = db.prepare(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?${release} WHERE id = ? AND state = 'pending'`);
  const dead = db.prepare(`UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?${release} WHERE id = ? AND state = 'pending'`);
  // with claims, an entry another replica holds is due when its claim ends (else the loop would spin on it)
  const dueAtSql = claims
    ? `CASE WHEN claimed_by IS NOT NULL AND claimed_by <> ? AND claimed_until > next_attempt_at THEN claimed_until ELSE next_attempt_at END`
    : 'next_attempt_at';
  const nextAll = db.prepare(`SELECT MIN(${dueAtSql}) AS at FROM outbox WHERE state = 'pending'`);
  const nextSink = db.prepare(`SELECT MIN(${dueAtSql}) AS at FROM outbox WHERE state = 'pending' AND sink = ?`);
  const claimArgs = claims ? [claimer] : [];
  const stats = db.prepare(`SELECT state, COUNT(*) AS n FROM outbox GROUP BY state`);
  const prune = db.prepare(`DELETE FROM outbox WHERE state IN ('delivered', 'dead') AND created_at < ?`);

  return {
    enqueue(notification, sinks, now) {
      if (!notification.dedupKey) throw new Error('outbox.enqueue: notification.dedupKey is empty');
      return enqueueTx(notification, sinks, now);
    },
    due(now, limit, sink) {
      if (claimSink && sink !== undefined) {
        const claimed = claimSink.all(claimer, now + OUTBOX_CLAIM_MS, sink, now, now, claimer, Math.min(limit, OUTBOX_CLAIM_BATCH)) as Row[];
        // RETURNING has no order
        return claimed.map(toEntry).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id - b.id);
      }
      const rows = (sink === undefined ? dueAll.all(now, limit) : dueSink.all(sink, now, limit)) as Row[];
      return rows.map(toEntry);
    },
    markDelivered(id, now) {
      delivered.run(now, id);
    },
    markRetry(id, nextAttemptAt, error) {
      retry.run(nextAttemptAt, error.slice(0, MAX_ERROR_LENGTH), id);
    },
    markDead(id, error) {
      dead.run(error.slice(0, MAX_ERROR_LENGTH), id);
    },
    nextDueAt(sink) {
      const row = (sink === undefined ? nextAll.get(...claimArgs) : nextSink.get(...claimArgs, sink)) as { at: number | string | null } | undefined;
      // pg reads BIGINT as text
      return row?.at === null || row?.at === undefined ? null : Number(row.at);
    },
    stats() {
      const out = { pending: 0, delivered: 0, dead: 0 };
      for (const row of stats.all() as Array<{ state: string; n: number }>) {
        if (row.state === 'pending' || row.state === 'delivered' || row.state === 'dead') out[row.state] = row.n;
      }
      return out;
    },
    list(filter) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.state) {
        where.push('state = ?');
        args.push(filter.state);
      }
      if (filter.sink) {
        where.push('sink = ?');
        args.push(filter.sink);
      }
      const sql = `SELECT * FROM outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
      args.push(filter.limit ?? 100);
      return (db.prepare(sql).all(...args) as Row[]).map(toEntry);
    },
    prune(before) {
      return prune.run(before).changes;
    },
  };
}
