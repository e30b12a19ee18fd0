/**
 * Messages between the PostgreSQL facade (main thread, database.ts) and its worker thread
 * (worker.ts). The worker answers each request on the port, then bumps `control[0]` and
 * notifies, which wakes the facade's `Atomics.wait`.
 */
import type { ClientConfig } from 'pg';

export interface WorkerData {
  /** Int32Array over a SharedArrayBuffer: [0] counts the answers posted. */
  control: Int32Array;
  port: import('node:worker_threads').MessagePort;
  /** pg client settings, password included (never logged, never sent back). */
  client: ClientConfig;
}

/** One statement: with parameters it goes as an extended query; without, as a simple query (which may hold several statements: migrations). */
export interface WorkerStatement {
  sql: string;
  params: unknown[];
}

export type WorkerRequest =
  | {
      kind: 'query';
      id: number;
      /**
       * Run in this order on the one connection, pipelined (written back to back, one round trip
       * to the server): the statements the facade held back (BEGIN, SET, SAVEPOINT, deferred
       * writes) and, last, the one whose answer the caller waits for.
       */
      statements: WorkerStatement[];
      /** The transaction the statements belong to (0: none); refused when the connection that began it is gone. */
      tx: number;
      /** The first statement is the BEGIN of transaction `tx` (a new transaction on the current connection). */
      begins?: boolean;
      /** The last statement ends `tx`: COMMIT (refused when the server rolled the transaction back) or ROLLBACK. */
      ends?: 'commit' | 'rollback';
      /** Statements (by index) whose rows are sent back too, besides the last one's (the facade's `getLater`). */
      answers?: number[];
    }
  /** Drop the connection now (a call timed out): the next request reconnects. No answer. */
  | { kind: 'reset' }
  /** Close the connection and stop answering. Answered. */
  | { kind: 'close'; id: number };

export interface WorkerError {
  message: string;
  /** SQLSTATE of a server error, or a Node error code (ECONNREFUSED). */
  code?: string;
  /** `connection`: the store is unreachable or the session was lost (the breaker counts it); `sql`: the statement failed. */
  kind: 'connection' | 'sql';
}

/** The answer of the last statement; on failure, which statement of the request failed first (`index`). */
export type WorkerResponse =
  | {
      id: number;
      ok: true;
      rows: Array<Record<string, unknown>>;
      rowCount: number;
      binary?: string[];
      /** The rows of the statements the request asked `answers` of. */
      answers?: Array<{ index: number; rows: Array<Record<string, unknown>>; binary?: string[] }>;
    }
  | { id: number; ok: false; error: WorkerError; index: number };
