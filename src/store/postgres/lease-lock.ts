/**
 * The leader lease's liveness fast path on PostgreSQL (src/wiring/leadership.ts): one session
 * per replica, beside the store's (a plain async `pg` client on the main thread; this module is
 * loaded only on a PostgreSQL store), that holds a session-level advisory lock for the leader's
 * whole term.
 *
 * The key is (a hash of the lease name, the term's epoch). The leader of term N takes key N
 * before the election that starts the term commits, and keeps it on this session until the
 * term ends. PostgreSQL drops a session's advisory locks when the session ends, which is as
 * soon as its backend sees the socket close: the key of a SIGKILLed or crashed leader is free
 * within milliseconds, while a stopped (SIGSTOP) or cut-off leader keeps its session and its
 * key until its connection times out. A follower waits on key N (`pg_advisory_lock`, bounded
 * by `lock_timeout`); getting it means term N's session is gone.
 *
 * This only shortens the wait for a dead leader. The lease row and its epoch fence stay the
 * only thing correctness rests on: a replica that wrongly judged a live leader gone would only
 * depose it (a new term; the old one's writes are refused by the fence).
 *
 * Every method answers, never throws. Any failure other than a lock timeout drops the session
 * (and with it every key it held): the next call connects again.
 */
import pg from 'pg';
import type { ClientConfig } from 'pg';
import { describeError, type Logger } from '../../protocol';

/** The advisory-lock key of a lease name: FNV-1a of `pipeline-supervisor lease <name>`, as a non-negative int4. */
export function leaseLockKey(name: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(`pipeline-supervisor lease ${name}`, 'utf8')) {
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}

/** An epoch as the key's int4 half (terms are far fewer than 2³¹; wrapping would only alias terms 2³¹ apart). */
const epochKey = (epoch: number): number => epoch % 0x7fffffff;

/** SQLSTATE of `lock_timeout` expiring while waiting. */
const LOCK_NOT_AVAILABLE = '55P03';

export interface LeaseLockParams {
  /** The store's pg settings (LeaseDatabase.sessionSettings). */
  settings: ClientConfig;
  /** Lease name (the key's first half). */
  name: string;
  /** Deadline of one short call (connect, try, unlock, check), ms: the store's `store.timeout`. */
  timeoutMs: number;
  logger: Logger;
  /** The session ended without close() (terminated, server restart, network): the keys it held are gone. */
  onLost?: () => void;
}

export type TryAnswer = 'held' | 'busy' | 'error';
export type WaitAnswer = 'held' | 'timeout' | 'error';

export class LeaseLock {
  readonly key: number;
  private readonly params: LeaseLockParams;
  private readonly logger: Logger;
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client | null> | null = null;
  /** Epochs whose key this session holds. */
  private readonly held = new Set<number>();
  /** tryHold calls in flight, by epoch. */
  private readonly trying = new Map<number, Promise<TryAnswer>>();
  /** Keys released while a try for them was in flight: let go of again as soon as it gets them. */
  private readonly unwanted = new Set<number>();
  private started: number | null = null;
  private failing = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(params: LeaseLockParams) {
    this.params = params;
    this.key = leaseLockKey(params.name);
    this.logger = params.logger;
  }

  /** When the server started (ms, its clock) as the current session saw it; null without a session. */
  get serverStartedAt(): number | null {
    return this.client ? this.started : null;
  }

  /** Whether this session holds term `epoch`'s key (as far as this process knows: check() asks the server). */
  holds(epoch: number): boolean {
    return this.client !== null && this.held.has(epoch);
  }

  /** Takes term `epoch`'s key if it is free: `busy` when another session holds it. */
  tryHold(epoch: number): Promise<TryAnswer> {
    if (this.holds(epoch)) return Promise.resolve('held');
    // one try per key at a time: a second pg_try_advisory_lock on this session would count twice
    let pending = this.trying.get(epoch);
    if (!pending) {
      pending = this.take(epoch).finally(() => this.trying.delete(epoch));
      this.trying.set(epoch, pending);
    }
    return pending;
  }

  private async take(epoch: number): Promise<TryAnswer> {
    this.unwanted.delete(epoch);
    const c = await this.session();
    if (!c) return 'error';
    try {
      const res = await this.query<{ ok: boolean }>(c, 'SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [this.key, epochKey(epoch)], this.params.timeoutMs);
      if (!res.rows[0]?.ok) return 'busy';
      this.held.add(epoch);
      if (this.unwanted.delete(epoch)) {
        await this.release(epoch);
        return 'busy';
      }
      return 'held';
    } catch (err) {
      this.lost(c, err);
      return 'error';
    }
  }

  /** Waits up to `ms` for term `epoch`'s key: `held` once its holder's session has let go of it. */
  async waitFor(epoch: number, ms: number): Promise<WaitAnswer> {
    if (this.holds(epoch)) return 'held';
    const c = await this.session();
    if (!c) return 'error';
    const wait = Math.max(1, Math.round(ms));
    try {
      await this.query(c, `SELECT set_config('lock_timeout', $1, false)`, [String(wait)], this.params.timeoutMs);
      await this.query(c, 'SELECT pg_advisory_lock($1::int4, $2::int4)', [this.key, epochKey(epoch)], wait + this.params.timeoutMs);
      this.held.add(epoch);
      return 'held';
    } catch (err) {
      if ((err as { code?: unknown }).code === LOCK_NOT_AVAILABLE && this.client === c) return 'timeout';
      this.lost(c, err);
      return 'error';
    }
  }

  /** Lets go of term `epoch`'s key (nothing when this session does not hold it). */
  async release(epoch: number): Promise<void> {
    if (this.trying.has(epoch)) this.unwanted.add(epoch);
    if (!this.held.delete(epoch)) return;
    const c = this.client;
    if (!c) return;
    try {
      await this.query(c, 'SELECT pg_advisory_unlock($1::int4, $2::int4)', [this.key, epochKey(epoch)], this.params.timeoutMs);
    } catch (err) {
      // dropping the session lets go of the key too
      this.lost(c, err);
    }
  }

  /**
   * The leader, each renewal: still holds term `epoch`'s key on a live session (a round trip
   * asks the server), or takes it again on a new session after losing the old one. `busy`:
   * another session took it meanwhile (a follower that judged this replica gone).
   */
  async keep(epoch: number): Promise<TryAnswer> {
    const c = this.client;
    if (c && this.held.has(epoch)) {
      try {
        await this.query(c, 'SELECT 1', [], this.params.timeoutMs);
        return 'held';
      } catch (err) {
        this.lost(c, err);
      }
    }
    return this.tryHold(epoch);
  }

  /** Ends the session (the server lets go of every key); idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.held.clear();
      const pending = this.connecting;
      const c = this.client;
      this.client = null;
      // end() destroys the socket when a query (a lock wait) is in flight
      await c?.end().catch(() => undefined);
      const late = await pending?.catch(() => null);
      await late?.end().catch(() => undefined);
    })();
    return this.closing;
  }

  private async session(): Promise<pg.Client | null> {
    if (this.closed) return null;
    if (this.client) return this.client;
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client | null> {
    const c = new pg.Client({
      ...this.params.settings,
      application_name: 'pipeline-supervisor lease',
      connectionTimeoutMillis: this.params.timeoutMs,
      // lock waits are bounded by lock_timeout, the other calls by their own deadline
      statement_timeout: false,
      keepAlive: true,
    });
    c.on('error', (err) => this.lost(c, err));
    c.on('end', () => this.lost(c, new Error('the session ended')));
    try {
      await c.connect();
      const res = await this.query<{ started: number }>(c, `SELECT (extract(epoch from pg_postmaster_start_time()) * 1000)::float8 AS started`, [], this.params.timeoutMs);
      if (this.closed) {
        await c.end().catch(() => undefined);
        return null;
      }
      this.started = Number(res.rows[0]?.started);
      this.client = c;
      if (this.failing) this.logger.info('the leader lease lock session is back');
      this.failing = false;
      return c;
    } catch (err) {
      void c.end().catch(() => undefined);
      if (!this.failing && !this.closed) this.logger.warn({ error: describeError(err).message }, 'the leader lease lock session cannot be opened; failover waits for lease expiry');
      this.failing = true;
      return null;
    }
  }

  private query<R extends pg.QueryResultRow = Record<string, unknown>>(c: pg.Client, text: string, values: unknown[], timeoutMs: number): Promise<pg.QueryResult<R>> {
    // query_timeout (per query, pg ≥ 8.x) is not in @types/pg's QueryConfig
    return c.query<R>({ text, values, query_timeout: timeoutMs } as pg.QueryConfig);
  }

  private lost(c: pg.Client, err: unknown): void {
    if (this.client !== c) return;
    this.client = null;
    this.held.clear();
    this.started = null;
    void c.end().catch(() => undefined);
    if (this.closed) return;
    this.logger.info({ error: describeError(err).message }, 'the leader lease lock session was lost');
    this.params.onLost?.();
  }
}
