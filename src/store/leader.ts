/**
 * The leader lease of replicas sharing one store (table `leader`, migration 3), after River's
 * and Oban's leader tables: one row per lease name with its holder, expiry and epoch.
 *
 * - **elect**: one `INSERT … ON CONFLICT DO UPDATE … WHERE` that succeeds when the row is new,
 *   expired, or already ours; `RETURNING epoch`. The epoch grows by one on every new term (a
 *   change of holder, or a holder coming back after its lease ran out), never on a renewal.
 * - **renew**: a conditional `UPDATE` on holder, epoch and an unexpired lease.
 * - **elect a given term** (`elect(holder, leaseMs, { epoch, takeOver })`): the same upsert,
 *   succeeding only when the term it makes is `epoch` (the one whose advisory lock the caller
 *   took first, src/store/postgres/lease-lock.ts), and also over the unexpired term `takeOver`
 *   when the caller knows that term's holder is gone (its lock session ended, or its process on
 *   this host is not running). Still a new term with the next epoch: the fence does the rest.
 * - **release**: ends our term at once (a clean stop: another replica takes over at its next
 *   try instead of waiting for the expiry).
 * - **fence**: inside a caller's transaction, an `UPDATE` that touches our row when holder,
 *   epoch and expiry still match (on PostgreSQL one statement with the server's clock, sent with
 *   the transaction's first write; a refusal fails the statement in the server, which aborts the
 *   transaction there — nothing sent after it commits — and the call with SUP_ERR_NOT_LEADER). On PostgreSQL it takes the row lock, so a takeover (which
 *   updates the same row) waits for a fenced transaction in flight, and a fenced transaction
 *   after a takeover finds no row: the two serialize.
 *
 * Time is the store's own clock where the dialect has one (PostgreSQL `clock_timestamp()`, so
 * clock skew between replicas does not matter; the fence reads it in its UPDATE), the caller's
 * clock on SQLite.
 */
import type { ClientConfig } from 'pg';
import { SupervisorError } from '../protocol';
import type { SqliteDatabase } from './database';
import { runChecked } from './postgres/database';

/**
 * The database handle the lease needs (better-sqlite3's, or the PostgreSQL store's with the same
 * API, `dialect`, and the settings of one more session for the lease's advisory lock).
 */
export type LeaseDatabase = Pick<SqliteDatabase, 'prepare' | 'transaction'> & {
  readonly dialect?: 'sqlite' | 'postgres';
  readonly timeoutMs?: number;
  sessionSettings?(): ClientConfig;
};

export interface LeaseRecord {
  name: string;
  holder: string | null;
  /** Epoch ms (store clock). */
  expiresAt: number;
  epoch: number;
}

export type ElectResult =
  | {
      held: true;
      epoch: number;
      expiresAt: number;
      /** The term began now (false: a renewal of the term we already held). */
      newTerm: boolean;
      /** The row before this election (null when the lease was never held). */
      previous: LeaseRecord | null;
    }
  | {
      held: false;
      current: LeaseRecord | null;
      /** The store's time of this election (the holder's lease ends `current.expiresAt - now` from here). */
      now: number;
    };

/** Which term an election may make (see the module's doc). */
export interface ElectTerm {
  /** The epoch the new (or renewed) term must have; the election fails otherwise. */
  epoch: number;
  /** An unexpired term whose holder is known to be gone: taken over as if it had expired. */
  takeOver?: { holder: string | null; epoch: number };
}

export interface LeaseStore {
  readonly name: string;
  /** The store's clock (PostgreSQL), or the given clock (SQLite). */
  now(): number;
  read(): LeaseRecord | null;
  /** Takes the lease when free, expired or ours (or `term.takeOver`'s); holds it for `leaseMs` from now. */
  elect(holder: string, leaseMs: number, term?: ElectTerm): ElectResult;
  /** Extends our unexpired term; false when it is not ours any more (deposed or expired). */
  renew(holder: string, epoch: number, leaseMs: number): boolean;
  /** Ends our term now; false when it was not ours any more. */
  release(holder: string, epoch: number): boolean;
  /**
   * Inside a transaction: true when `holder` still holds term `epoch` and it has not expired.
   * On PostgreSQL the row stays locked until the transaction ends, and the check goes with the
   * transaction's next statement (src/store/postgres/database.ts runChecked): fence() answers
   * true, and when the term has ended the server refuses it, aborting the transaction before
   * anything after it runs, and that next call (at the latest the COMMIT, which may go in the
   * same request) throws SUP_ERR_NOT_LEADER: nothing of the transaction commits. (Outside a
   * transaction it answers at once.)
   */
  fence(holder: string, epoch: number): boolean;
}

export interface LeaseStoreParams {
  db: LeaseDatabase;
  /** Lease name (one per role; default `supervisor`). */
  name?: string;
  /** The clock of a SQLite store (ignored on PostgreSQL, which uses its own). */
  now: () => number;
}

interface Row {
  name: string;
  holder: string | null;
  expires_at: number | string;
  epoch: number | string;
}

// pg returns BIGINT as a string
const toRecord = (r: Row): LeaseRecord => ({ name: r.name, holder: r.holder, expiresAt: Number(r.expires_at), epoch: Number(r.epoch) });

export function createLeaseStore(params: LeaseStoreParams): LeaseStore {
  const { db } = params;
  const name = params.name ?? 'supervisor';
  const postgres = db.dialect === 'postgres';
  const storeNow = postgres ? db.prepare(`SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now`) : null;
  const now = (): number => (storeNow ? Number((storeNow.get() as { now: number | string }).now) : params.now());

  const readStmt = db.prepare(`SELECT name, holder, expires_at, epoch FROM leader WHERE name = ?`);
  // a new term when the row is new, expired or another holder's (expired); the epoch grows only then
  const electStmt = db.prepare(
    `INSERT INTO leader (name, holder, expires_at, epoch) VALUES (?, ?, ?, 1)
     ON CONFLICT (name) DO UPDATE SET
       holder = excluded.holder,
       expires_at = excluded.expires_at,
       epoch = CASE WHEN leader.holder = excluded.holder AND leader.expires_at > ? THEN leader.epoch ELSE leader.epoch + 1 END
     WHERE leader.holder = excluded.holder OR leader.holder IS NULL OR leader.expires_at <= ?
     RETURNING epoch, expires_at`,
  );
  // the same, for a given term: it must come out as epoch ? (the INSERT gives it that epoch), and
  // it may also replace the exact unexpired term (holder ?, epoch ?) whose holder is gone
  const electTermStmt = db.prepare(
    `INSERT INTO leader (name, holder, expires_at, epoch) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET
       holder = excluded.holder,
       expires_at = excluded.expires_at,
       epoch = CASE WHEN leader.holder = excluded.holder AND leader.expires_at > ? THEN leader.epoch ELSE leader.epoch + 1 END
     WHERE (leader.holder = excluded.holder OR leader.holder IS NULL OR leader.expires_at <= ? OR (leader.holder = ? AND leader.epoch = ?))
       AND (CASE WHEN leader.holder = excluded.holder AND leader.expires_at > ? THEN leader.epoch ELSE leader.epoch + 1 END) = ?
     RETURNING epoch, expires_at`,
  );
  const renewStmt = db.prepare(`UPDATE leader SET expires_at = ? WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ?`);
  const releaseStmt = db.prepare(`UPDATE leader SET expires_at = ? WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ?`);
  // touches the row: on PostgreSQL this is the row lock a takeover's upsert waits for; there the
  // expiry is compared with the server's clock in the same statement (one round trip, not two)
  const fenceStmt = postgres
    ? db.prepare(`UPDATE leader SET epoch = epoch WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint`)
    : db.prepare(`UPDATE leader SET epoch = epoch WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ?`);

  const read = (): LeaseRecord | null => {
    const row = readStmt.get(name) as Row | undefined;
    return row ? toRecord(row) : null;
  };

  const elect = db.transaction((holder: string, leaseMs: number, term: ElectTerm | undefined): ElectResult => {
    const at = now();
    const previous = read();
    type Elected = { epoch: number | string; expires_at: number | string } | undefined;
    const row = term
      ? // no holder id is '': without a takeOver that part of the condition never holds
        (electTermStmt.get(name, holder, at + leaseMs, term.epoch, at, at, term.takeOver?.holder ?? '', term.takeOver?.epoch ?? -1, at, term.epoch) as Elected)
      : (electStmt.get(name, holder, at + leaseMs, at, at) as Elected);
    if (!row) return { held: false, current: previous, now: at };
    const epoch = Number(row.epoch);
    return { held: true, epoch, expiresAt: Number(row.expires_at), newTerm: previous === null || previous.epoch !== epoch, previous };
  });

  return {
    name,
    now,
    read,
    elect: (holder, leaseMs, term) => elect.immediate(holder, leaseMs, term),
    renew(holder, epoch, leaseMs) {
      const at = now();
      return renewStmt.run(at + leaseMs, name, holder, epoch, at).changes === 1;
    },
    release(holder, epoch) {
      const at = now();
      return releaseStmt.run(at, name, holder, epoch, at).changes === 1;
    },
    fence(holder, epoch) {
      if (!postgres) return fenceStmt.run(name, holder, epoch, now()).changes === 1;
      // held back with the transaction's next statement (one round trip less); a refusal fails that call
      const refuse = (): Error => new SupervisorError('SUP_ERR_NOT_LEADER', `the leader lease's term ${epoch} of ${holder} has ended`);
      return runChecked(fenceStmt, 1, refuse, name, holder, epoch);
    },
  };
}
