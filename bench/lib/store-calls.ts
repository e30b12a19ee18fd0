/**
 * Counts the state store calls a component makes and the time its thread is blocked in them,
 * without touching the store: a `SqlDatabase` (src/store/sql.ts) that delegates to the real one
 * (a Proxy: every other property is the real one's) and records every top-level call (a
 * statement outside a transaction, or a whole transaction).
 *
 * Round trips are what a call costs on PostgreSQL, where each statement, BEGIN/COMMIT and
 * SAVEPOINT/RELEASE is one synchronous request to the server (src/store/postgres/database.ts);
 * "commits" are the transactions committed: an outer transaction, or a write outside one
 * (autocommit). On PostgreSQL each waits for the server's WAL flush (synchronous_commit on, the
 * default); on SQLite in WAL mode with synchronous=NORMAL (the store's setting) a commit does not
 * sync. On SQLite the same calls run in-process.
 *
 * When the store counts its own requests (the PostgreSQL facade's `requestCount`: statements it
 * held back go with the next request, see src/store/postgres/database.ts), the round trips of a
 * call are that count's growth over it; otherwise one per statement, BEGIN/COMMIT and
 * SAVEPOINT/RELEASE.
 */
import type { SqlDatabase, SqlStatement, SqlTransaction, TransactionFunction } from '../../src/store/sql';

export interface StoreCall {
  /** Start, on the `now()` clock given (ms). */
  t: number;
  /** Time the thread was blocked in the call (ms). */
  ms: number;
  statements: number;
  roundTrips: number;
  commits: number;
}

const WRITE = /^\s*(INSERT|UPDATE|DELETE)\b/i;

export function countStoreCalls(db: SqlDatabase, now: () => number): { db: SqlDatabase; calls: StoreCall[] } {
  const calls: StoreCall[] = [];
  let depth = 0;
  let current: StoreCall = { t: 0, ms: 0, statements: 0, roundTrips: 0, commits: 0 };
  const requests = (): number | undefined => {
    const n = (db as { requestCount?: unknown }).requestCount;
    return typeof n === 'number' ? n : undefined;
  };
  let requestsBefore: number | undefined;
  const within = <T>(fn: () => T): T => {
    if (depth++ === 0) {
      current = { t: now(), ms: 0, statements: 0, roundTrips: 0, commits: 0 };
      requestsBefore = requests();
    }
    try {
      return fn();
    } finally {
      if (--depth === 0) {
        current.ms = now() - current.t;
        const after = requests();
        if (after !== undefined && requestsBefore !== undefined) current.roundTrips = after - requestsBefore;
        calls.push(current);
      }
    }
  };
  const statement = (sql: string, s: SqlStatement): SqlStatement => {
    const write = WRITE.test(sql);
    const call =
      <K extends 'run' | 'get' | 'all'>(method: K) =>
      (...params: unknown[]): ReturnType<SqlStatement[K]> =>
        within(() => {
          current.statements += 1;
          current.roundTrips += 1;
          if (write && !db.inTransaction) current.commits += 1;
          return s[method](...params) as ReturnType<SqlStatement[K]>;
        });
    const wrapped: SqlStatement & { runLater?: (...params: unknown[]) => void } = { run: call('run'), get: call('get'), all: call('all') };
    // the PostgreSQL statement's held-back write (src/store/postgres/database.ts runLater) stays one
    const later = (s as { runLater?: (...params: unknown[]) => void }).runLater;
    if (later)
      wrapped.runLater = (...params: unknown[]) =>
        within(() => {
          current.statements += 1;
          if (!db.inTransaction) current.commits += 1;
          later(...params);
        });
    // and its checked write (the lease fence: src/store/postgres/database.ts runChecked) too
    const checked = (s as { runChecked?: (changes: number, refuse: () => Error, ...params: unknown[]) => boolean }).runChecked;
    if (checked)
      (wrapped as { runChecked?: unknown }).runChecked = (changes: number, refuse: () => Error, ...params: unknown[]) =>
        within(() => {
          current.statements += 1;
          if (!db.inTransaction) current.commits += 1;
          return checked(changes, refuse, ...params);
        });
    // and its read answered later (src/store/postgres/database.ts getLater: the schedule's statement, sent with the COMMIT)
    const getLater = (s as { getLater?: (...params: unknown[]) => () => unknown }).getLater;
    if (getLater)
      (wrapped as { getLater?: unknown }).getLater = (...params: unknown[]) =>
        within(() => {
          current.statements += 1;
          if (write && !db.inTransaction) current.commits += 1;
          return getLater(...params);
        });
    return wrapped;
  };
  const transaction = <F extends TransactionFunction>(tx: SqlTransaction<F>): SqlTransaction<F> => {
    type Run = SqlTransaction<F>['immediate'];
    const wrap = (run: Run): Run =>
      ((...args: Parameters<Run>) =>
        within(() => {
          // BEGIN + COMMIT (outer) or SAVEPOINT + RELEASE (nested)
          current.roundTrips += 2;
          if (!db.inTransaction) current.commits += 1;
          return run(...args);
        })) as Run;
    return Object.assign(
      wrap((...a) => tx(...a)),
      { deferred: wrap((...a) => tx.deferred(...a)), immediate: wrap((...a) => tx.immediate(...a)), exclusive: wrap((...a) => tx.exclusive(...a)) },
    ) as SqlTransaction<F>;
  };
  const overrides: Pick<SqlDatabase, 'prepare' | 'transaction' | 'exec'> = {
    prepare: ((sql: string) => statement(sql, db.prepare(sql))) as SqlDatabase['prepare'],
    transaction: <F extends TransactionFunction>(fn: F) => transaction(db.transaction(fn)),
    exec: (sql: string) =>
      within(() => {
        current.roundTrips += 1;
        return db.exec(sql);
      }),
  };
  // everything else (dialect, name, inTransaction, close, and what a backend adds, such as the
  // PostgreSQL store's sessionSettings() for the lease's lock session) is the real store's
  const counted = new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare' || prop === 'transaction' || prop === 'exec') return overrides[prop];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: counted, calls };
}

/** The calls that started in [from, to] (ms on the same clock), summed. */
export function callsBetween(calls: readonly StoreCall[], from: number, to: number): Omit<StoreCall, 't'> & { calls: number } {
  const sum = { calls: 0, ms: 0, statements: 0, roundTrips: 0, commits: 0 };
  for (const c of calls) {
    if (c.t < from || c.t > to) continue;
    sum.calls += 1;
    sum.ms += c.ms;
    sum.statements += c.statements;
    sum.roundTrips += c.roundTrips;
    sum.commits += c.commits;
  }
  return sum;
}
