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

export type WorkerRequest =
  | {
      kind: 'query';
      id: number;
      sql: string;
      params: unknown[];
      /** The transaction the statement belongs to (0: none); refused when the connection that began it is gone. */
      tx: number;
      /** BEGIN of transaction `tx` (a new transaction on the current connection). */
      begins?: boolean;
      /** COMMIT or ROLLBACK of `tx`. */
      ends?: boolean;
    }
  | { kind: 'exec'; id: number; sql: string; tx: number }
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

export type WorkerResponse = { id: number; ok: true; rows: Array<Record<string, unknown>>; rowCount: number; binary?: string[] } | { id: number; ok: false; error: WorkerError };
