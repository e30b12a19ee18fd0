/**
 * Leadership: which replica of a shared store does the leader-only work (fires schedules and
 * event triggers, dispatches runs, recovers crashed runs, evaluates alerts and enqueues
 * notifications), and the fence every such write goes through.
 *
 * - On SQLite the one daemon (it holds the store's exclusive lock) is always the leader, with a
 *   constant epoch and no lease table traffic (`createSoleLeadership`).
 * - On a shared store (PostgreSQL) a lease (src/store/leader.ts) elects the leader; the holder
 *   renews it every `leader.renew_interval` for `leader.lease`, releases it on a clean stop, and
 *   steps down when a renewal or a fenced write is refused, or when its own clock says the
 *   lease may have run out without a renewal (a store it cannot reach, a SIGSTOP).
 *
 * `fenced(fn)` runs `fn` in one transaction that first checks (and on PostgreSQL locks) the
 * lease row: holder, epoch and expiry. A deposed leader that wakes late gets SUP_ERR_NOT_LEADER
 * before anything is written, logs it once and steps down.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { SupervisorError, describeError, isSupervisorError, type Clock, type Component, type Logger } from '../protocol';
import { createLeaseStore, type LeaseDatabase, type LeaseRecord, type LeaseStore } from '../store/leader';

export interface LeaderState {
  /** This replica leads. */
  leader: boolean;
  /** Our term's epoch while leading, else null. */
  epoch: number | null;
}

/** What /readyz and the metrics say about the lease. */
export interface LeaderStatus {
  self: boolean;
  /** Who holds the lease now (null when nobody does, or unknown). */
  holder: string | null;
  epoch: number | null;
  /** This replica's holder id. */
  id: string;
  /** Why the lease state is unknown (the store does not answer), when it is. */
  problem?: string;
}

export interface Leadership extends Component {
  readonly name: 'leadership';
  /** This process's holder id (`host:pid:random`). */
  readonly id: string;
  /** Whether the lease is shared by replicas (false on SQLite: always the leader). */
  readonly shared: boolean;
  isLeader(): boolean;
  epoch(): number | null;
  /** The leader state: replays the current one, then each change. */
  readonly leader$: Observable<LeaderState>;
  status(): LeaderStatus;
  /**
   * Runs `fn` in one transaction fenced by our term: SUP_ERR_NOT_LEADER (nothing written) when
   * this replica does not lead, or its term ended.
   */
  fenced<T>(fn: () => T): T;
}

export function holderId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export function notLeader(message: string): SupervisorError {
  return new SupervisorError('SUP_ERR_NOT_LEADER', message);
}

export function isNotLeader(err: unknown): boolean {
  return isSupervisorError(err) && err.code === 'SUP_ERR_NOT_LEADER';
}

/**
 * `fenced(db, lease, term, fn)`: `fn` inside a transaction that first checks, in the store,
 * that `term` still holds the lease (on PostgreSQL the row stays locked until commit, so a
 * takeover serializes after it). Throws SUP_ERR_NOT_LEADER, writing nothing, otherwise.
 */
export function fenced<T>(db: LeaseDatabase, lease: LeaseStore, term: { holder: string; epoch: number }, fn: () => T): T {
  const tx = db.transaction((): T => {
    if (db.dialect === 'postgres') {
      // a fenced transaction holds the lease row's lock: a replica stopped in the middle of one
      // (SIGSTOP) must not block the takeover for longer than this
      db.prepare(`SET LOCAL idle_in_transaction_session_timeout = 5000`).run();
    }
    if (!lease.fence(term.holder, term.epoch)) throw notLeader(`the leader lease's term ${term.epoch} of ${term.holder} has ended`);
    return fn();
  });
  return tx.immediate();
}

/** SQLite: the one daemon leads, always, with epoch 1. */
export function createSoleLeadership(): Leadership {
  const state: LeaderState = { leader: true, epoch: 1 };
  const subject = new BehaviorSubject<LeaderState>(state);
  const id = holderId();
  return {
    name: 'leadership',
    id,
    shared: false,
    isLeader: () => true,
    epoch: () => 1,
    leader$: subject.asObservable(),
    status: () => ({ self: true, holder: id, epoch: 1, id }),
    fenced: (fn) => fn(),
    start: () => Promise.resolve(),
    stop: () => {
      subject.complete();
      return Promise.resolve();
    },
  };
}

export interface LeaseLeadershipParams {
  db: LeaseDatabase;
  clock: Clock;
  logger: Logger;
  /** `leader.lease`, ms. */
  leaseMs: number;
  /** `leader.renew_interval`, ms. */
  renewIntervalMs: number;
  /** Default holderId(). */
  id?: string;
  /** Lease name (default `supervisor`). */
  name?: string;
  /** The SQLite store's clock for expiry (tests with a fake clock); PostgreSQL uses its own. */
  storeNow?: () => number;
  /** Local monotonic time, ms (default performance.now()); how long since the last renewal. */
  monotonic?: () => number;
}

export function createLeaseLeadership(params: LeaseLeadershipParams): Leadership {
  return new LeaseLeadership(params);
}

class LeaseLeadership implements Leadership {
  readonly name = 'leadership';
  readonly id: string;
  readonly shared = true;
  readonly leader$: Observable<LeaderState>;

  private readonly params: LeaseLeadershipParams;
  private readonly logger: Logger;
  private readonly lease: LeaseStore;
  private readonly monotonic: () => number;
  private readonly state = new BehaviorSubject<LeaderState>({ leader: false, epoch: null });
  /** Local monotonic time until which our term is surely valid (started before the last successful elect/renew). */
  private validUntil = 0;
  private observed: LeaseRecord | null = null;
  /** The store's time when `observed` was read (a follower's next try is timed by the holder's expiry). */
  private observedAt: number | undefined;
  private problem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(params: LeaseLeadershipParams) {
    this.params = params;
    this.id = params.id ?? holderId();
    this.logger = params.logger.child({ component: 'leadership', name: params.name ?? 'supervisor' });
    this.lease = createLeaseStore({ db: params.db, ...(params.name ? { name: params.name } : {}), now: params.storeNow ?? (() => params.clock.now()) });
    this.monotonic = params.monotonic ?? (() => performance.now());
    this.leader$ = this.state.pipe(distinctUntilChanged((a, b) => a.leader === b.leader && a.epoch === b.epoch));
  }

  isLeader(): boolean {
    const s = this.state.value;
    if (!s.leader) return false;
    // our own clock says the lease may have run out since the last renewal (a stopped process, an unreachable store)
    if (this.monotonic() >= this.validUntil) {
      this.stepDown('the lease was not renewed in time');
      return false;
    }
    return true;
  }

  epoch(): number | null {
    return this.isLeader() ? this.state.value.epoch : null;
  }

  status(): LeaderStatus {
    const self = this.isLeader();
    const o = this.observed;
    const live = o && o.holder !== null && (self || o.expiresAt > this.params.clock.now() - 1) ? o : null;
    return {
      self,
      holder: self ? this.id : (live?.holder ?? null),
      epoch: self ? this.state.value.epoch : (live?.epoch ?? null),
      id: this.id,
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  fenced<T>(fn: () => T): T {
    const epoch = this.epoch();
    if (epoch === null) throw notLeader(`this replica (${this.id}) does not lead`);
    try {
      return fenced(this.params.db, this.lease, { holder: this.id, epoch }, fn);
    } catch (err) {
      if (isNotLeader(err)) this.stepDown('a fenced write was refused: another replica holds the lease');
      throw err;
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // one try now, so the roles that follow start knowing whether this replica leads
    this.cycle();
    this.schedule();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      const s = this.state.value;
      if (s.leader && s.epoch !== null) {
        try {
          // a clean stop hands over at once instead of after the lease's expiry
          if (this.lease.release(this.id, s.epoch)) this.logger.info({ epoch: s.epoch }, 'leader lease released');
        } catch (err) {
          this.logger.warn({ error: describeError(err).message }, 'releasing the leader lease failed; it expires by itself');
        }
      }
      this.state.next({ leader: false, epoch: null });
      this.state.complete();
    })();
    return this.stopping;
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.cycle();
      this.schedule();
    }, this.nextTryIn());
    this.timer.unref();
  }

  /** A leader renews every renew_interval; a follower tries again then, or just after the holder's lease ends if that is sooner. */
  private nextTryIn(): number {
    const interval = this.params.renewIntervalMs;
    const o = this.observed;
    if (this.state.value.leader || !o || this.observedAt === undefined) return interval;
    // both times are the store's: no clock skew between replicas enters this
    return Math.max(20, Math.min(interval, o.expiresAt - this.observedAt + 20));
  }

  /** One renewal (leader) or election try (follower); never throws. */
  private cycle(): void {
    if (this.stopping) return;
    const { leaseMs } = this.params;
    const startedAt = this.monotonic();
    try {
      const s = this.state.value;
      if (s.leader && s.epoch !== null && this.isLeader()) {
        if (this.lease.renew(this.id, s.epoch, leaseMs)) {
          this.validUntil = startedAt + leaseMs;
          this.observed = { name: this.lease.name, holder: this.id, epoch: s.epoch, expiresAt: this.params.clock.now() + leaseMs };
        } else {
          this.stepDown('the lease renewal was refused: another replica holds the lease');
        }
      }
      if (!this.state.value.leader) {
        const r = this.lease.elect(this.id, leaseMs);
        if (r.held) {
          this.validUntil = startedAt + leaseMs;
          this.observed = { name: this.lease.name, holder: this.id, epoch: r.epoch, expiresAt: r.expiresAt };
          this.logger.info(
            { epoch: r.epoch, ...(r.previous?.holder && r.previous.holder !== this.id ? { previous: r.previous.holder, previousEpoch: r.previous.epoch } : {}) },
            'this replica now leads',
          );
          this.state.next({ leader: true, epoch: r.epoch });
        } else {
          this.observed = r.current;
          this.observedAt = r.now;
        }
      }
      if (this.problem) this.logger.info('the store answers the lease again');
      this.problem = undefined;
    } catch (err) {
      const message = describeError(err).message;
      if (this.problem === undefined) this.logger.warn({ error: message }, 'the leader lease cannot be read or renewed');
      this.problem = `the leader lease cannot be read or renewed: ${message}`;
      // still leading until our own clock says the lease may have run out
      this.isLeader();
    }
  }

  private stepDown(why: string): void {
    const s = this.state.value;
    if (!s.leader) return;
    this.validUntil = 0;
    // logged once per term: the transition, not every refused write
    this.logger.warn({ epoch: s.epoch, reason: why }, 'this replica no longer leads; leader-only work stops');
    this.state.next({ leader: false, epoch: null });
  }
}
