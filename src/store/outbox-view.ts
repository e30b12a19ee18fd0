/**
 * Read-only view of the alert outbox for the UI: deliveries still pending (first try or
 * retrying) and the dead ones, newest first, with the sink's last error. One indexed query per
 * request (`outbox_due` covers the pending ones); the payload's title only, never its body.
 */
import type { SqliteDatabase } from './database';
import { dialectOf } from './sql';

export interface DeliveryView {
  id: number;
  sink: string;
  dedupKey: string;
  state: 'pending' | 'retrying' | 'failed' | 'delivered';
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  deliveredAt: number | null;
  lastError: string | null;
  title: string | null;
}

interface Row {
  id: number;
  sink: string;
  dedup_key: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  delivered_at: number | null;
  last_error: string | null;
  title: string | null;
}

export function createOutboxView(db: SqliteDatabase) {
  const title = dialectOf(db) === 'postgres' ? `(notification::json ->> 'title')` : `json_extract(notification, '$.title')`;
  const open = db.prepare<[number], Row>(
    `SELECT id, sink, dedup_key, state, attempts, next_attempt_at, created_at, delivered_at, last_error, ${title} AS title
     FROM outbox WHERE state IN ('pending', 'dead') ORDER BY id DESC LIMIT ?`,
  );
  const recent = db.prepare<[number], Row>(
    `SELECT id, sink, dedup_key, state, attempts, next_attempt_at, created_at, delivered_at, last_error, ${title} AS title
     FROM outbox WHERE state = 'delivered' ORDER BY id DESC LIMIT ?`,
  );
  const view = (r: Row): DeliveryView => ({
    id: r.id,
    sink: r.sink,
    dedupKey: r.dedup_key,
    state: r.state === 'dead' ? 'failed' : r.state === 'delivered' ? 'delivered' : r.attempts > 0 ? 'retrying' : 'pending',
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
    lastError: r.last_error,
    title: typeof r.title === 'string' ? r.title : null,
  });
  return {
    /** Pending, retrying and failed deliveries (at most `limit`), then the `recentDelivered` newest delivered ones. */
    list(limit = 200, recentDelivered = 20): DeliveryView[] {
      return [...open.all(limit).map(view), ...recent.all(recentDelivered).map(view)];
    },
  };
}
