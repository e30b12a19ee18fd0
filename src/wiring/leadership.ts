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
 * How soon a follower takes over (liveness only: the epoch fence is what keeps two leaders'
 * writes apart, whatever a follower concludes):
 * - **A released lease** (clean stop) or **an expired one** (a stopped, cut-off or wedged
 *   leader): at the follower's next try. A follower tries every `renew_interval`, and just
 *   after the holder's expiry it read from the store when that is sooner (both store times).
 * - **A dead leader's process on PostgreSQL** (SIGKILL, crash, OOM, its host's network stack
 *   closing the socket): at once. The leader holds an advisory lock on a session of its own for
 *   the whole term (src/store/postgres/lease-lock.ts, key = the term's epoch), taken before the
 *   election that starts the term commits. A follower spends its waits between tries blocked on
 *   that key; the server hands it over as soon as the leader's session ends, and the follower
 *   takes the term over with the next epoch. A stopped leader keeps its session and its key, so
 *   followers wait for the expiry as above. After a server restart every session is new and a
 *   free key proves nothing until the holder has renewed: a free key counts only when the
 *   holder's last renewal is younger than the server. A leader that loses only its lock session
 *   takes the key again at once, and steps down if another session has it already.
 * - **A dead leader's process on SQLite** (replicas of one host sharing the file): at the
 *   follower's next try, when the holder id names this host and its pid is not running. (This
 *   assumes the replicas share a pid namespace, as processes sharing one SQLite file do.)
 *
 * `fenced(fn)` runs `fn` in one transaction that first checks (and on PostgreSQL locks) the
 * lease row: holder, epoch and expiry. A deposed leader that wakes late gets SUP_ERR_NOT_LEADER
 * before anything is written, logs it once and steps down.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { SupervisorError, describeError, isSupervisorError, type Clock, type Component, type Logger } from '../protocol';
import { createLeaseStore, type ElectResult, type ElectTerm, type LeaseDatabase, type LeaseRecord, type LeaseStore } from '../store/leader';
import type { LeaseLock } from '../store/postgres/lease-lock';

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

/**
 * Whether a holder id (`host:pid:random`) names a process of this host that is not running
 * (no such pid, or a zombie its parent has not reaped yet). False for another host's id, our
 * own pid, or anything that is not such an id: only a sure "gone" counts.
 */
export function holderProcessGone(holder: string | null, host = os.hostname()): boolean {
  const m = holder === null ? null : /^(.+):(\d+):[0-9a-f]+$/.exec(holder);
  if (!m || m[1] !== host) return false;
  const pid = Number(m[2]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    // `pid (comm) S …`: the state follows the last parenthesis (comm may hold any character)
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
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

/** `promise`'s value, or `fallback` when it takes longer than `ms` (the promise goes on). */
function withinMs<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
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
  /** The advisory-lock session (PostgreSQL only; opened by start()). */
  private lock: LeaseLock | null = null;
  /** A term whose key a follower's wait got: its holder's session is gone (checked at the next cycle). */
  private gone: LeaseRecord | undefined;
  /** The next pause is a plain sleep: a free key was not proof (the holder may not have taken it again since a server restart). */
  private holdOff = false;
  /** Ends the current sleep early (a lost lock session while leading; stop()). */
  private wake: (() => void) | undefined;
  private starting: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private closing = false;
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

  start(): Promise<void> {
    this.starting ??= (async () => {
      const { db } = this.params;
      if (db.dialect === 'postgres' && db.sessionSettings) {
        // loaded only here: pg stays out of the main thread of a SQLite daemon
        const { LeaseLock } = await import('../store/postgres/lease-lock');
        this.lock = new LeaseLock({
          settings: db.sessionSettings(),
          name: this.lease.name,
          timeoutMs: db.timeoutMs ?? 5_000,
          logger: this.logger,
          // leading without our key: take it again at once (or learn that a follower has it)
          onLost: () => {
            if (this.state.value.leader) this.wake?.();
          },
        });
      }
      if (this.closing) return;
      // one try now, so the roles that follow start knowing whether this replica leads
      let first!: () => void;
      const tried = new Promise<void>((resolve) => (first = resolve));
      this.loop = this.run(first);
      await tried;
    })();
    return this.starting;
  }

  stop(): Promise<void> {
    this.closing = true;
    this.stopping ??= (async () => {
      this.wake?.();
      await this.starting?.catch(() => undefined);
      // a follower's lock wait ends with its session (it holds nothing to hand over)
      if (!this.state.value.leader) await this.lock?.close();
      await this.loop;
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
      // after the release: a follower waiting on our key wakes to a released lease
      await this.lock?.close();
    })();
    return this.stopping;
  }

  private async run(tried: () => void): Promise<void> {
    await this.cycle();
    tried();
    while (!this.closing) {
      await this.pause(this.nextTryIn());
      if (this.closing) return;
      await this.cycle();
    }
  }

  /** A leader renews every renew_interval; a follower tries again then, or just after the holder's lease ends if that is sooner. */
  private nextTryIn(): number {
    const interval = this.params.renewIntervalMs;
    const o = this.observed;
    if (this.state.value.leader || !o || this.observedAt === undefined) return interval;
    // both times are the store's: no clock skew between replicas enters this
    return Math.max(20, Math.min(interval, o.expiresAt - this.observedAt + 20));
  }

  /**
   * Until the next try. A follower on PostgreSQL spends it waiting on the holder's key: when it
   * gets the key, the holder's session is gone and the next try comes at once.
   */
  private async pause(ms: number): Promise<void> {
    const o = this.observed;
    const lock = this.lock;
    if (lock && !this.closing && !this.holdOff && !this.state.value.leader && o && o.holder !== null && o.holder !== this.id) {
      const begun = performance.now();
      const answer = await lock.waitFor(o.epoch, ms);
      if (answer === 'held') {
        this.gone = o;
        return;
      }
      if (answer === 'timeout') return;
      // no lock session: sleep the rest
      ms -= performance.now() - begun;
    }
    this.holdOff = false;
    if (ms > 0 && !this.closing) await this.sleep(ms);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  /** One renewal (leader) or election try (follower); never throws. */
  private async cycle(): Promise<void> {
    if (this.closing) return;
    try {
      if (this.state.value.leader) await this.renewTerm();
      if (!this.closing && !this.state.value.leader) await this.electTerm();
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

  private async renewTerm(): Promise<void> {
    const { leaseMs } = this.params;
    const startedAt = this.monotonic();
    const epoch = this.state.value.epoch;
    if (epoch === null || !this.isLeader()) return;
    if (this.lock) {
      // keep our key before renewing: a renewal younger than the server means the key is held.
      // A lock session that hangs (connecting to a server that does not answer) delays the
      // renewal by at most half an interval: the key is taken again in the background then.
      const answer = await withinMs(this.lock.keep(epoch), this.params.renewIntervalMs / 2, 'error' as const);
      if (this.closing || this.state.value.epoch !== epoch) return;
      if (answer === 'busy') {
        this.stepDown("another session holds this term's advisory lock: a follower found our session gone and takes over");
        return;
      }
      // 'error': no lock session (the store may still answer): renew anyway; a follower that can
      // take the free key will take the term over, which is what stepping down would lead to
    }
    if (!this.isLeader()) return;
    if (this.lease.renew(this.id, epoch, leaseMs)) {
      this.validUntil = startedAt + leaseMs;
      this.observed = { name: this.lease.name, holder: this.id, epoch, expiresAt: this.params.clock.now() + leaseMs };
      // renewed without our key (the server was just back, say): take it now, not an interval later
      if (this.lock && !this.lock.holds(epoch)) void this.lock.tryHold(epoch);
    } else {
      this.stepDown('the lease renewal was refused: another replica holds the lease');
    }
  }

  private async electTerm(): Promise<void> {
    const { leaseMs } = this.params;
    const startedAt = this.monotonic();
    const lock = this.lock;
    if (!lock) {
      // SQLite (no sessions): a holder whose process on this host is gone is taken over at once
      let r = this.lease.elect(this.id, leaseMs);
      let why: string | undefined;
      if (!r.held && r.current && r.current.holder !== this.id && this.params.db.dialect !== 'postgres' && holderProcessGone(r.current.holder)) {
        const gone = r.current;
        r = this.lease.elect(this.id, leaseMs, { epoch: gone.epoch + 1, takeOver: { holder: gone.holder, epoch: gone.epoch } });
        why = 'the holder process is not running';
      }
      this.settle(r, startedAt, why);
      return;
    }

    // PostgreSQL: the key of the term we would make comes first, then the election of exactly that term
    const gone = this.gone;
    this.gone = undefined;
    try {
      await this.electWithKey(lock, gone, startedAt);
    } finally {
      // the key of a term we found gone (or not quite): let go of it whatever came of the try
      if (gone) await lock.release(gone.epoch);
    }
  }

  private async electWithKey(lock: LeaseLock, gone: LeaseRecord | undefined, startedAt: number): Promise<void> {
    const { leaseMs } = this.params;
    const at = this.lease.now();
    const current = this.lease.read();
    let term: ElectTerm | null = null;
    let why: string | undefined;
    if (gone && current && current.epoch === gone.epoch && current.holder === gone.holder && current.expiresAt > at) {
      const serverStartedAt = lock.serverStartedAt;
      if (serverStartedAt !== null && current.expiresAt - leaseMs > serverStartedAt) {
        term = { epoch: current.epoch + 1, takeOver: { holder: current.holder, epoch: current.epoch } };
        why = "the holder's session is gone (its advisory lock was released)";
      } else {
        // the server restarted since the holder's last renewal: every session's keys went with it; let the holder take its key again
        this.holdOff = true;
      }
    } else {
      const epoch = this.termFor(current, at);
      if (epoch !== null) term = { epoch };
    }
    if (term === null || this.closing) {
      this.observe(current, at);
      return;
    }
    const answer = await lock.tryHold(term.epoch);
    if (this.closing || answer === 'busy') {
      // busy: another replica is electing itself for this term (it took the key first)
      if (answer === 'held') await lock.release(term.epoch);
      this.observe(current, at);
      return;
    }
    // 'error': no lock session: elect without the key (liveness first; the fence keeps it safe)
    const r = this.lease.elect(this.id, leaseMs, term);
    if (!r.held) await lock.release(term.epoch);
    this.settle(r, startedAt, why);
  }

  /** The epoch an election would give us now, or null while another holder's term runs. */
  private termFor(current: LeaseRecord | null, at: number): number | null {
    if (!current) return 1;
    if (current.holder === null || current.expiresAt <= at) return current.epoch + 1;
    if (current.holder === this.id) return current.epoch;
    return null;
  }

  private observe(current: LeaseRecord | null, at: number): void {
    this.observed = current;
    this.observedAt = at;
  }

  private settle(r: ElectResult, startedAt: number, why: string | undefined): void {
    if (!r.held) {
      this.observe(r.current, r.now);
      return;
    }
    this.validUntil = startedAt + this.params.leaseMs;
    this.observed = { name: this.lease.name, holder: this.id, epoch: r.epoch, expiresAt: r.expiresAt };
    this.logger.info(
      {
        epoch: r.epoch,
        ...(r.previous?.holder && r.previous.holder !== this.id ? { previous: r.previous.holder, previousEpoch: r.previous.epoch } : {}),
        ...(why ? { reason: why } : {}),
      },
      'this replica now leads',
    );
    this.state.next({ leader: true, epoch: r.epoch });
  }

  private stepDown(why: string): void {
    const s = this.state.value;
    if (!s.leader) return;
    this.validUntil = 0;
    // logged once per term: the transition, not every refused write
    this.logger.warn({ epoch: s.epoch, reason: why }, 'this replica no longer leads; leader-only work stops');
    this.state.next({ leader: false, epoch: null });
    // our key goes too: a follower waiting on it takes over now instead of at the expiry
    if (this.lock && s.epoch !== null) void this.lock.release(s.epoch);
  }
}
