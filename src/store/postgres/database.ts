/**
 * The PostgreSQL state store behind the synchronous `SqlDatabase` interface the stores are
 * written against (src/store/sql.ts).
 *
 * The `pg` client runs in a worker thread (worker.ts). Each call posts its statement to the
 * worker and blocks this thread with `Atomics.wait` until the answer is posted back, or until the
 * deadline (`store.timeout`, 5 s by default). So:
 * - a call costs one round trip to the server plus a thread hop (measured in BENCHMARKS.md);
 * - a hung, stopped or unreachable server costs at most one deadline: the call fails with
 *   SUP_ERR_STORE_UNAVAILABLE and the circuit breaker opens; for `breakerMs` every call then
 *   fails at once with the same error (host and last error named, never the password), and the
 *   first call after that tries the server again;
 * - `health()` says whether the store answers (for /readyz).
 *
 * `transaction(fn)` sends BEGIN, fn's statements and COMMIT (ROLLBACK when fn throws) to the
 * worker's one connection; this thread is blocked in between, so nothing else interleaves.
 * Nested transactions are savepoints, as in better-sqlite3.
 *
 * Round trips: inside a transaction, what the caller needs no answer of is held back and sent
 * with the next statement that needs one, in one request the worker pipelines (one round trip
 * to the server): the BEGIN, `SET` statements, SAVEPOINT/RELEASE (and ROLLBACK TO after a
 * failure), and writes run with `runLater()` (below). The COMMIT carries what is still held
 * back, so a transaction's trailing writes and its COMMIT are one round trip. A transaction
 * that sent nothing but its BEGIN and SETs sends nothing at all. A held-back statement that
 * fails fails the next call of the transaction, and the whole transaction: every later call
 * fails with it and it is rolled back (a savepoint does not undo it). Outside a transaction
 * every call is sent at once (autocommit: durable when it returns). A COMMIT the server
 * answers with ROLLBACK (the transaction was aborted) fails instead of passing for a commit.
 * A checked write (`runChecked`, the leader's fence) refuses in the server: it is sent as one
 * statement that fails when the write did not change what it must, which aborts the transaction
 * there, so the statements after it in the same request (its COMMIT too, which then answers
 * ROLLBACK) commit nothing, and the facade fails the call with the check's own error. A
 * transaction of held-back statements, its checked write and a read whose answer is wanted
 * only after the commit (`getLater`) is one request: BEGIN … COMMIT in one round trip.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { ClientConfig } from 'pg';
import { SupervisorError } from '../../protocol';
import type { SqlDatabase, SqlRunResult, SqlStatement, SqlTransaction, TransactionFunction } from '../sql';
import type { WorkerRequest, WorkerResponse, WorkerStatement } from './protocol';
import { translateSql, type TranslatedSql } from './translate';

export interface PostgresDatabaseOptions {
  /** pg client settings, password included. */
  client: ClientConfig;
  /** The store as shown in messages and `db.name`: `postgres://user@host:port/db`, never the password. */
  display: string;
  /** `host:port`, named in errors. */
  host: string;
  /** Deadline of one call (ms). */
  timeoutMs: number;
  /** How long the breaker fails calls fast after a failure (ms); default min(timeout, 2 s). */
  breakerMs?: number;
  now?: () => number;
}

/** What one call sends beside the statements held back: the statement it waits for, and whether it ends the transaction. */
interface Outgoing {
  statement: WorkerStatement;
  ends?: 'commit' | 'rollback';
}

/** The answer of a statement held back with `getLater`: filled when the request carrying it is answered. */
interface Answer {
  tx: number;
  state: 'held' | 'answered' | 'failed';
  rows?: Array<Record<string, unknown>>;
}

/** A statement held back; `write`: it changes data (a deferred write), else it only prepares the transaction (BEGIN, SET, SAVEPOINT). */
interface Held extends WorkerStatement {
  write: boolean;
  /** A checked write (`runChecked`), sent as a statement that fails in the server unless it changed what it must; `refuse()` is the error then. */
  expect?: { refuse: () => Error };
  /** A statement whose rows the caller reads later (`getLater`). */
  answer?: Answer;
}

/** A PostgreSQL statement's extras: a write whose answer the caller does not need now (see `runLater`, `runChecked`, `getLater`). */
interface LaterStatement {
  runLater(...params: unknown[]): void;
  runChecked(changes: number, refuse: () => Error, ...params: unknown[]): boolean;
  getLater(...params: unknown[]): () => unknown;
}

/**
 * Runs a write whose answer (changes, last id) the caller does not use. On PostgreSQL inside a
 * transaction it is held back and sent with the transaction's next call or its COMMIT (a failure
 * fails the transaction there); outside a transaction, and on SQLite, it is `run()` at once.
 */
export function runLater<P extends unknown[]>(statement: SqlStatement<P>, ...params: P): void {
  const later = (statement as Partial<LaterStatement>).runLater;
  if (later) later(...params);
  else statement.run(...params);
}

/**
 * A write that must change exactly `changes` rows for the transaction to go on (a fence: the
 * lease row of our term). On PostgreSQL inside a transaction it is held back like `runLater`
 * and `true` is returned at once; its answer comes with the transaction's next call (at the
 * latest its COMMIT), which throws `refuse()`'s error when the count differs: the transaction
 * is rolled back, nothing of it commits, and statements sent after the check in the same
 * request see it (a row lock it takes is taken before them). Elsewhere it runs at once and
 * answers whether the count matched.
 */
export function runChecked<P extends unknown[]>(statement: SqlStatement<P>, changes: number, refuse: () => Error, ...params: P): boolean {
  const checked = (statement as Partial<LaterStatement>).runChecked;
  if (checked) return checked(changes, refuse, ...params);
  return statement.run(...params).changes === changes;
}

/**
 * A statement whose first row the caller reads later, through the function returned. On
 * PostgreSQL inside a transaction it is held back like `runLater` and sent with the
 * transaction's next request — at the latest its COMMIT: a transaction whose last statement it
 * is costs one round trip, its answer read after the commit. The function called before that
 * request was sent sends what is held back at once (one more round trip); when the request
 * carrying the statement failed (and so its transaction), it throws. Outside a transaction, and
 * on SQLite, it is `get()` at once.
 */
export function getLater<P extends unknown[], R>(statement: SqlStatement<P, R>, ...params: P): () => R | undefined {
  const later = (statement as Partial<LaterStatement>).getLater;
  if (later) return later(...params) as () => R | undefined;
  const row = statement.get(...params);
  return () => row;
}

const SET_STATEMENT = /^\s*SET\s/i;
/** What a refused checked write makes the server say (an integer cast of this text fails: 22P02). */
const CHECK_REFUSED = 'supervisor: checked write refused';

/**
 * A write (INSERT/UPDATE/DELETE without RETURNING) as one statement that fails in the server
 * unless it changed exactly `changes` rows: the failure aborts the transaction there, before
 * anything after it can commit. The cast applies to a value the planner cannot fold (it depends
 * on the rows changed), so a matching write never fails.
 */
function checkedText(text: string, changes: number): string {
  if (!/^\s*(INSERT|UPDATE|DELETE)\b/i.test(text) || /\bRETURNING\b/i.test(text))
    throw new TypeError(`runChecked takes an INSERT, UPDATE or DELETE without RETURNING: ${text.slice(0, 80)}`);
  if (!Number.isInteger(changes) || changes < 0) throw new RangeError(`runChecked: changes must be a count (got ${changes})`);
  return `WITH checked AS (${text} RETURNING 1) SELECT CAST(CASE WHEN COUNT(*) = ${changes} THEN '0' ELSE '${CHECK_REFUSED}' END AS INTEGER) AS refused FROM checked`;
}

function isRefusal(error: { code?: string; message: string }): boolean {
  return error.code === '22P02' && error.message.includes(CHECK_REFUSED);
}

/** Structured clone turned Buffers into Uint8Arrays: the stores use Buffer methods. */
function fixBinary(rows: Array<Record<string, unknown>>, binary: readonly string[] | undefined): void {
  if (!binary) return;
  for (const row of rows) {
    for (const key of binary) {
      const v = row[key];
      if (v instanceof Uint8Array) row[key] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
}

export interface StoreHealth {
  ok: boolean;
  reason?: string;
}

/** A statement the server refused (syntax, constraint, type): the statement's fault, not the store's. */
export class PostgresStatementError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'PostgresStatementError';
    this.code = code;
  }
}

/** Where the worker's file is: the compiled .js beside this one, or the .ts source under tsx (tests, tsx scripts). */
function workerFile(): { file: string; execArgv: string[] } {
  const js = path.join(__dirname, 'worker.js');
  if (fs.existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(__dirname, 'worker.ts'), execArgv: ['--require', require.resolve('tsx/cjs')] };
}

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  readonly name: string;
  readonly host: string;
  readonly timeoutMs: number;
  readonly breakerMs: number;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly control = new Int32Array(new SharedArrayBuffer(4));
  private readonly now: () => number;
  private readonly clientConfig: ClientConfig;
  private nextId = 1;
  private nextTx = 1;
  /** The open transaction (0: none) and its savepoint depth. */
  private tx = 0;
  private depth = 0;
  /** The open transaction's BEGIN was sent. */
  private begun = false;
  /** Statements of the open transaction held back until its next call (see the module's doc). */
  private held: Held[] = [];
  /** A held-back statement of the open transaction failed: the transaction fails with this. */
  private poisoned: Error | null = null;
  private isOpen = true;
  private breakerUntil = 0;
  private lastError: string | null = null;
  private lastCode: string | undefined;
  private lastOkAt = 0;

  constructor(options: PostgresDatabaseOptions) {
    this.name = options.display;
    this.host = options.host;
    this.timeoutMs = options.timeoutMs;
    this.breakerMs = options.breakerMs ?? Math.min(options.timeoutMs, 2_000);
    this.now = options.now ?? Date.now;
    this.clientConfig = options.client;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const { file, execArgv } = workerFile();
    this.worker = new Worker(file, {
      execArgv,
      workerData: { control: this.control, port: port2, client: options.client },
      transferList: [port2],
      // the facade answers for the worker: a worker crash surfaces as calls failing, never as a throw here
      stderr: false,
    });
    this.worker.on('error', (err) => {
      this.lastError = `the store's worker thread failed: ${err.message}`;
    });
    // the worker never keeps the process alive on its own: close() ends it
    this.worker.unref();
    this.port.unref();
  }

  get open(): boolean {
    return this.isOpen;
  }

  get inTransaction(): boolean {
    return this.tx !== 0;
  }

  /** Requests posted to the worker so far: each is one round trip (bench/lib/store-calls.ts counts them). */
  get requestCount(): number {
    return this.nextId - 1;
  }

  /**
   * The pg settings for one more session on this store's server, for a connection that must
   * outlive single calls: the leader lease's advisory lock (src/store/postgres/lease-lock.ts).
   * The password is in them: never log them.
   */
  sessionSettings(): ClientConfig {
    return { ...this.clientConfig };
  }

  /** The last connection failure (message and code), until a call succeeds. */
  lastFailure(): { message: string; code?: string } | null {
    return this.lastError === null ? null : { message: this.lastError, ...(this.lastCode !== undefined ? { code: this.lastCode } : {}) };
  }

  /** Whether the store answers: false while the breaker is open or the last call failed, with why. */
  health(): StoreHealth {
    if (!this.isOpen) return { ok: false, reason: 'the store is closed' };
    if (this.now() < this.breakerUntil) return { ok: false, reason: this.unavailableMessage() };
    // a store that answered in the last second is up; else ask it (at most one deadline)
    if (this.now() - this.lastOkAt > 1_000 && this.tx === 0) {
      try {
        this.request({ statement: { sql: 'SELECT 1', params: [] } });
      } catch (err) {
        return { ok: false, reason: (err as Error).message };
      }
    }
    return { ok: true };
  }

  prepare<P extends unknown[] | object = unknown[], R = unknown>(sql: string): P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R> {
    const translated = translateSql(sql);
    // a SET inside a transaction answers nothing anyone reads: held back like a deferred write
    const isSet = SET_STATEMENT.test(translated.text);
    const statement: SqlStatement<unknown[], R> & LaterStatement = {
      runLater: (...params) => {
        if (this.tx === 0) statement.run(...params);
        else this.held.push({ sql: translated.runText, params: translated.bind(params), write: !isSet });
      },
      runChecked: (changes, refuse, ...params) => {
        if (this.tx === 0) return statement.run(...params).changes === changes;
        this.held.push({ sql: checkedText(translated.text, changes), params: translated.bind(params), write: true, expect: { refuse } });
        return true;
      },
      getLater: (...params) => {
        if (this.tx === 0) {
          const row = statement.get(...params);
          return () => row;
        }
        const answer: Answer = { tx: this.tx, state: 'held' };
        this.held.push({ sql: translated.text, params: translated.bind(params), write: true, answer });
        return () => {
          // still held back in its (open) transaction: sent now with what is held
          if (answer.state === 'held' && this.tx === answer.tx) this.request({ statement: { sql: 'SELECT 1', params: [] } });
          if (answer.state !== 'answered') throw new PostgresStatementError('the statement was not answered: its transaction failed', undefined);
          return answer.rows?.[0];
        };
      },
      run: (...params) => {
        if (isSet && this.tx !== 0) {
          this.held.push({ sql: translated.text, params: translated.bind(params), write: false });
          return { changes: 0, lastInsertRowid: 0 } satisfies SqlRunResult;
        }
        const res = this.query(translated, params, true);
        const id = res.rows[0]?.id;
        return { changes: res.rowCount, lastInsertRowid: typeof id === 'number' ? id : 0 } satisfies SqlRunResult;
      },
      get: (...params) => this.query(translated, params, false).rows[0] as R | undefined,
      all: (...params) => this.query(translated, params, false).rows as R[],
    };
    return statement as unknown as P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R>;
  }

  exec(sql: string): this {
    this.request({ statement: { sql, params: [] } });
    return this;
  }

  transaction<F extends TransactionFunction>(fn: F): SqlTransaction<F> {
    const run = (...args: Parameters<F>): ReturnType<F> => (this.tx === 0 ? this.outer(fn, args) : this.nested(fn, args));
    return Object.assign(run, { deferred: run, immediate: run, exclusive: run }) as unknown as SqlTransaction<F>;
  }

  /** Closes the connection and ends the worker; idempotent. */
  close(): this {
    if (!this.isOpen) return this;
    this.isOpen = false;
    try {
      // a short goodbye: the server ends the session; a hung server is not waited for long
      this.post({ kind: 'close', id: this.nextId++ }, Math.min(this.timeoutMs, 1_000));
    } catch {
      /* closing anyway */
    }
    void this.worker.terminate().catch(() => undefined);
    this.port.close();
    return this;
  }

  private outer<F extends TransactionFunction>(fn: F, args: Parameters<F>): ReturnType<F> {
    this.tx = this.nextTx++;
    this.begun = false;
    this.poisoned = null;
    // BEGIN goes with the transaction's first call
    this.held = [{ sql: 'BEGIN', params: [], write: false }];
    try {
      const result = fn(...args) as ReturnType<F>;
      // (a check still held back goes with the COMMIT: refused, it aborts the transaction in the server first)
      // nothing sent and nothing to write (a BEGIN, SETs): nothing to commit
      if (this.begun || this.held.some((h) => h.write)) this.request({ statement: { sql: 'COMMIT', params: [] }, ends: 'commit' });
      return result;
    } catch (err) {
      this.held = [];
      if (this.begun) {
        try {
          this.request({ statement: { sql: 'ROLLBACK', params: [] }, ends: 'rollback' });
        } catch {
          // the connection is gone or the breaker is open: the server rolls back on its own
        }
      }
      throw err;
    } finally {
      this.tx = 0;
      this.depth = 0;
      this.held = [];
      this.begun = false;
      this.poisoned = null;
    }
  }

  private nested<F extends TransactionFunction>(fn: F, args: Parameters<F>): ReturnType<F> {
    const name = `sp_${++this.depth}`;
    const savepoint: Held = { sql: `SAVEPOINT ${name}`, params: [], write: false };
    this.held.push(savepoint);
    try {
      const result = fn(...args) as ReturnType<F>;
      this.held.push({ sql: `RELEASE SAVEPOINT ${name}`, params: [], write: false });
      return result;
    } catch (err) {
      const at = this.held.indexOf(savepoint);
      // nothing after the SAVEPOINT was sent: dropping what was held since undoes it all
      if (at >= 0) this.held.length = at;
      else this.held.push({ sql: `ROLLBACK TO SAVEPOINT ${name}`, params: [], write: false }, { sql: `RELEASE SAVEPOINT ${name}`, params: [], write: false });
      throw err;
    } finally {
      this.depth--;
    }
  }

  private query(sql: TranslatedSql, params: unknown[], forRun: boolean): Extract<WorkerResponse, { ok: true }> {
    const values = sql.bind(params);
    const res = this.request({ statement: { sql: forRun ? sql.runText : sql.text, params: values } });
    fixBinary(res.rows, res.binary);
    return res;
  }

  private unavailableMessage(): string {
    return `the PostgreSQL store at ${this.host} is unavailable: ${this.lastError ?? 'no answer'}`;
  }

  private unavailable(): SupervisorError {
    return new SupervisorError('SUP_ERR_STORE_UNAVAILABLE', this.unavailableMessage(), { where: 'store.url', retryable: true });
  }

  private fail(reason: string, code?: string): never {
    this.lastError = reason;
    this.lastCode = code;
    this.breakerUntil = this.now() + this.breakerMs;
    throw this.unavailable();
  }

  private request(out: Outgoing): Extract<WorkerResponse, { ok: true }> {
    if (!this.isOpen) throw new SupervisorError('SUP_ERR_STORE_UNAVAILABLE', `the PostgreSQL store at ${this.host} is closed`, { where: 'store.url' });
    if (this.now() < this.breakerUntil) throw this.unavailable();
    const tx = this.tx;
    if (tx !== 0 && this.poisoned && out.ends !== 'rollback') {
      // a refused check keeps its own error (SUP_ERR_NOT_LEADER: the leadership steps down on it)
      if (this.poisoned instanceof SupervisorError) throw this.poisoned;
      throw new PostgresStatementError(`an earlier statement of this transaction failed: ${this.poisoned.message}`, undefined);
    }
    const held = tx === 0 ? [] : this.held;
    const begins = tx !== 0 && !this.begun;
    if (tx !== 0) {
      this.held = [];
      this.begun = true;
    }
    // what goes to the worker: SQL and values only (the checks stay here), and which answers to send back
    const statements: WorkerStatement[] = out.ends === 'rollback' ? [out.statement] : [...held.map((h) => ({ sql: h.sql, params: h.params })), out.statement];
    const answers = out.ends === 'rollback' ? [] : held.flatMap((h, i) => (h.answer ? [i] : []));
    const id = this.nextId++;
    let res: WorkerResponse | null;
    try {
      res = this.post(
        { kind: 'query', id, statements, tx, ...(begins ? { begins: true } : {}), ...(out.ends ? { ends: out.ends } : {}), ...(answers.length ? { answers } : {}) },
        this.timeoutMs,
      );
    } finally {
      // an answer the loop below does not fill (a failed or lost request) is lost with it
      for (const h of held) if (h.answer?.state === 'held') h.answer.state = 'failed';
    }
    if (res === null) {
      // the server (or the network) hangs: drop the connection, so the worker is free for the next call
      this.port.postMessage({ kind: 'reset' } satisfies WorkerRequest);
      this.fail(`no answer within ${this.timeoutMs} ms (store.timeout)`);
    }
    if (!res.ok) {
      if (res.error.kind === 'connection') this.fail(res.error.message, res.error.code);
      // a checked write held back that did not change what it must: the transaction fails with its error
      const expect = res.index < held.length ? held[res.index]!.expect : undefined;
      if (expect && isRefusal(res.error)) {
        const refused = expect.refuse();
        this.poisoned = refused;
        throw refused;
      }
      const error = new PostgresStatementError(res.error.message, res.error.code);
      // a statement held back failed: the transaction cannot commit any more
      if (tx !== 0 && res.index < statements.length - 1) this.poisoned = error;
      throw error;
    }
    for (const a of res.answers ?? []) {
      const answer = held[a.index]?.answer;
      if (!answer) continue;
      fixBinary(a.rows, a.binary);
      answer.rows = a.rows;
      answer.state = 'answered';
    }
    // A ROLLBACK is no sign of a store that answers: the worker acknowledges it without the
    // server when the transaction's connection is gone (the server rolled it back), so a store
    // refusing every connection looked healthy to health() after each failed transaction.
    if (out.ends !== 'rollback') {
      this.lastOkAt = this.now();
      this.lastError = null;
      this.lastCode = undefined;
    }
    return res;
  }

  /** Posts one request and waits for its answer; null when `timeoutMs` passed first. Answers to earlier (timed-out) requests are dropped. */
  private post(req: Exclude<WorkerRequest, { kind: 'reset' }>, timeoutMs: number): WorkerResponse | null {
    const id = req.id;
    const deadline = Date.now() + timeoutMs;
    this.port.postMessage(req);
    for (;;) {
      const seen = Atomics.load(this.control, 0);
      for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
        const answer = m.message as WorkerResponse;
        if (answer.id === id) return answer;
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      Atomics.wait(this.control, 0, seen, left);
    }
  }
}
