import type { Notification } from './alert';

/**
 * Storage the alert engine and the outbox need. Implemented by the SQLite store in src/store;
 * alerts/ sees only these interfaces.
 */
export interface OutboxEntry {
  id: number;
  sink: string;
  dedupKey: string;
  notification: Notification;
  attempts: number;
  /** Epoch ms when the next attempt is due. */
  nextAttemptAt: number;
  createdAt: number;
  state: 'pending' | 'delivered' | 'dead';
  lastError?: string;
  deliveredAt?: number;
}

export interface OutboxStore {
  /** Adds one entry per sink; an existing (sink, dedupKey) is left alone. Returns the ids added. */
  enqueue(notification: Notification, sinks: readonly string[], now: number): number[];
  /** Pending entries due at `now`, oldest first; only `sink`'s when given. */
  due(now: number, limit: number, sink?: string): OutboxEntry[];
  markDelivered(id: number, now: number): void;
  markRetry(id: number, nextAttemptAt: number, error: string): void;
  markDead(id: number, error: string): void;
  /** Epoch ms of the earliest pending attempt (of `sink` when given), or null when nothing is pending. */
  nextDueAt(sink?: string): number | null;
  stats(): { pending: number; delivered: number; dead: number };
  list(filter: { state?: OutboxEntry['state']; sink?: string; limit?: number }): OutboxEntry[];
  /** Deletes delivered and dead entries created before `before` (keeps dedup keys for that long). Returns the count. */
  prune(before: number): number;
}

export interface AlertRecord {
  /** `rule|labelset` */
  key: string;
  rule: string;
  labels: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
  /** When the condition was first seen true (pending since). */
  activeSince: number;
  firedAt?: number;
  resolvedAt?: number;
  lastNotifiedAt?: number;
  /** Last time the condition was seen true (for keep_firing_for). */
  lastTrueAt: number;
  /** Status (signal rules) or run state (run rules) last seen while the condition was true. */
  status?: string;
  value?: number;
  threshold?: number;
  unit?: string;
  severity?: string;
  summary: string;
  description?: string;
  /** Link to the run or the health page. */
  url?: string;
}

/**
 * Notification state of one group (rule + values of the route's group_by labels): what was
 * last notified and when, so a restart neither re-pages nor forgets to resolve.
 */
export interface AlertGroupRecord {
  /** `rule|labelset` of the group labels. */
  key: string;
  rule: string;
  labels: Record<string, string>;
  /** Start of the current firing episode (first firing notification); part of every dedup key. */
  episodeSince: number;
  /** Firing notifications enqueued in this episode (first, changes, repeats). */
  sequence: number;
  lastNotifiedAt: number;
  /** Alert keys listed in the last firing notification. */
  notifiedAlerts: string[];
}

export interface AlertStateStore {
  loadAlerts(): AlertRecord[];
  saveAlert(record: AlertRecord): void;
  deleteAlert(key: string): void;
  loadGroups(): AlertGroupRecord[];
  saveGroup(record: AlertGroupRecord): void;
  deleteGroup(key: string): void;
}

export interface Silence {
  id: string;
  /** Label matchers: exact values, or `~regex` (RE2 syntax, anchored to the whole value). */
  matchers: Record<string, string>;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

export interface SilenceStore {
  /** Silences not yet ended at `now`, oldest first; with `all`, expired ones too. */
  listSilences(now: number, options?: { all?: boolean }): Silence[];
  /** Validates (matchers compile on the linear-time engine, dates, limits) and stores; throws SUP_ERR_BAD_REQUEST. */
  addSilence(silence: Silence): void;
  /** Ends an active silence at `now` (it stays listed with `all`). False when no active silence has this id. */
  expireSilence(id: string, now: number): boolean;
  deleteSilence(id: string): boolean;
  /**
   * Calls `listener` after every change made through any store on the same database (the
   * alert engine keeps silences in memory and re-reads them then). Returns the unsubscribe.
   */
  onChange?(listener: () => void): () => void;
}
