/**
 * The SQL interface every store module is written against: exactly the subset of
 * better-sqlite3's synchronous API the stores use, so a better-sqlite3 `Database` satisfies it
 * as it is, and the PostgreSQL facade (src/store/postgres/database.ts) implements it with a
 * worker thread and `Atomics.wait`.
 *
 * - Statements: `db.prepare(sql).run/get/all`, with positional `?` or named `@name` parameters
 *   (an object), never both in one statement.
 * - `run()` gives `changes` (rows inserted, updated or deleted) and `lastInsertRowid` (the id of
 *   the row an `INSERT` made in a table with an integer `id` key: SQLite's rowid, PostgreSQL's
 *   `RETURNING id`).
 * - `db.transaction(fn)` returns a function running `fn` in one transaction (nested: a
 *   savepoint); `.immediate(...)` takes the write lock at the start on SQLite (BEGIN IMMEDIATE)
 *   and is a plain BEGIN on PostgreSQL, where row locks and unique indexes decide.
 *
 * Write SQL both dialects run: no `rowid` (PostgreSQL tables have a `rowid` BIGSERIAL column
 * standing for it, see migrations-postgres.ts), no PRAGMA, `MAX(a, b)` is `GREATEST` there. When a
 * statement must differ, branch on `dialectOf(db)`, in the store, next to the statement.
 */

export type SqlDialect = 'sqlite' | 'postgres';

export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement<P extends unknown[] = unknown[], R = unknown> {
  run(...params: P): SqlRunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

// the same constraint and argument types as better-sqlite3's Transaction, so that its Database satisfies SqlDatabase
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any[]` is what better-sqlite3 declares; unknown[] would not match it
export type TransactionFunction = (...args: any[]) => unknown;
type ArgumentTypes<F extends TransactionFunction> = F extends (...args: infer A) => unknown ? A : never;

/** What `db.transaction(fn)` returns: call it (or `.immediate(...)`) to run `fn` in a transaction. */
export interface SqlTransaction<F extends TransactionFunction> {
  (...args: ArgumentTypes<F>): ReturnType<F>;
  deferred(...args: ArgumentTypes<F>): ReturnType<F>;
  immediate(...args: ArgumentTypes<F>): ReturnType<F>;
  exclusive(...args: ArgumentTypes<F>): ReturnType<F>;
}

export interface SqlDatabase {
  /**
   * Which SQL the database speaks. Absent on a bare better-sqlite3 `Database` (tests open some
   * directly): that is SQLite. Read it with `dialectOf(db)`.
   */
  readonly dialect?: SqlDialect;
  /** The SQLite file (or ':memory:'); a PostgreSQL store's URL without the password. */
  readonly name: string;
  /** False once closed. */
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare<P extends unknown[] | object = unknown[], R = unknown>(sql: string): P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R>;
  transaction<F extends TransactionFunction>(fn: F): SqlTransaction<F>;
  /** Runs one or more statements without parameters (migrations). */
  exec(sql: string): unknown;
  close(): unknown;
}

export const dialectOf = (db: Pick<SqlDatabase, 'dialect'>): SqlDialect => db.dialect ?? 'sqlite';
