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
 */
import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { ClientConfig } from 'pg';
import { SupervisorError } from '../../protocol';
import type { SqlDatabase, SqlRunResult, SqlStatement, SqlTransaction, TransactionFunction } from '../sql';
import type { WorkerRequest, WorkerResponse } from './protocol';
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

/** A request before it gets its id. */
type Outgoing = Extract<WorkerRequest, { kind: 'query' }> extends infer Q ? (Q extends { id: number } ? Omit<Q, 'id'> : never) | { kind: 'exec'; sql: string; tx: number } : never;

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
        this.request({ kind: 'query', sql: 'SELECT 1', params: [], tx: 0 });
      } catch (err) {
        return { ok: false, reason: (err as Error).message };
      }
    }
    return { ok: true };
  }

  prepare<P extends unknown[] | object = unknown[], R = unknown>(sql: string): P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R> {
    const translated = translateSql(sql);
    const statement: SqlStatement<unknown[], R> = {
      run: (...params) => {
        const res = this.query(translated, params, true);
        const id = res.rows[0]?.id;
        return { changes: res.rowCount, lastInsertRowid: typeof id === 'number' ? id : 0 } satisfies SqlRunResult;
      },
      get: (...params) => this.query(translated, params, false).rows[0] as R | undefined,
      all: (...params) => this.query(translated, params, false).rows as R[],
    };
    return statement as P extends unknown[] ? SqlStatement<P, R> : SqlStatement<[P], R>;
  }

  exec(sql: string): this {
    this.request({ kind: 'exec', sql, tx: this.tx });
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
    const tx = this.nextTx++;
    this.request({ kind: 'query', sql: 'BEGIN', params: [], tx, begins: true });
    this.tx = tx;
    try {
      const result = fn(...args) as ReturnType<F>;
      this.request({ kind: 'query', sql: 'COMMIT', params: [], tx, ends: true });
      return result;
    } catch (err) {
      try {
        this.request({ kind: 'query', sql: 'ROLLBACK', params: [], tx, ends: true });
      } catch {
        // the connection is gone or the breaker is open: the server rolls back on its own
      }
      throw err;
    } finally {
      this.tx = 0;
      this.depth = 0;
    }
  }

  private nested<F extends TransactionFunction>(fn: F, args: Parameters<F>): ReturnType<F> {
    const name = `sp_${++this.depth}`;
    this.request({ kind: 'query', sql: `SAVEPOINT ${name}`, params: [], tx: this.tx });
    try {
      const result = fn(...args) as ReturnType<F>;
      this.request({ kind: 'query', sql: `RELEASE SAVEPOINT ${name}`, params: [], tx: this.tx });
      return result;
    } catch (err) {
      try {
        this.request({ kind: 'query', sql: `ROLLBACK TO SAVEPOINT ${name}`, params: [], tx: this.tx });
        this.request({ kind: 'query', sql: `RELEASE SAVEPOINT ${name}`, params: [], tx: this.tx });
      } catch {
        // the outer transaction fails too
      }
      throw err;
    } finally {
      this.depth--;
    }
  }

  private query(sql: TranslatedSql, params: unknown[], forRun: boolean): Extract<WorkerResponse, { ok: true }> {
    const values = sql.bind(params);
    const res = this.request({ kind: 'query', sql: forRun ? sql.runText : sql.text, params: values, tx: this.tx });
    if (res.binary) {
      // structured clone turned Buffers into Uint8Arrays: the stores use Buffer methods
      for (const row of res.rows) {
        for (const key of res.binary) {
          const v = row[key];
          if (v instanceof Uint8Array) row[key] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        }
      }
    }
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

  private request(req: Outgoing): Extract<WorkerResponse, { ok: true }> {
    if (!this.isOpen) throw new SupervisorError('SUP_ERR_STORE_UNAVAILABLE', `the PostgreSQL store at ${this.host} is closed`, { where: 'store.url' });
    if (this.now() < this.breakerUntil) throw this.unavailable();
    const id = this.nextId++;
    const res = this.post({ ...req, id }, this.timeoutMs);
    if (res === null) {
      // the server (or the network) hangs: drop the connection, so the worker is free for the next call
      this.port.postMessage({ kind: 'reset' } satisfies WorkerRequest);
      this.fail(`no answer within ${this.timeoutMs} ms (store.timeout)`);
    }
    if (!res.ok) {
      if (res.error.kind === 'connection') this.fail(res.error.message, res.error.code);
      throw new PostgresStatementError(res.error.message, res.error.code);
    }
    this.lastOkAt = this.now();
    this.lastError = null;
    this.lastCode = undefined;
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
