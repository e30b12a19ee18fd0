/**
 * The worker thread of the PostgreSQL facade: one `pg` connection, one request at a time, in
 * the order they come. The facade blocks its (main) thread on `Atomics.wait` until the answer is
 * posted, so the statements of a transaction reach this one connection back to back.
 *
 * A lost connection (server restart, pg_terminate_backend, network) is dropped and the next
 * request connects again. Statements of a transaction begun on a connection that is gone are
 * refused: the server rolled that transaction back, and running the rest on a new connection
 * would commit half of it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import type { WorkerData, WorkerError, WorkerRequest, WorkerResponse } from './protocol';

// epoch milliseconds are BIGINT (int8) and COUNT(*) is int8: numbers, as SQLite gives them
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/** bytea's type OID (pg.types.builtins.BYTEA; a plain number as `fields` carry it). */
const BYTEA: number = pg.types.builtins.BYTEA;
/** Server errors of a session that is gone (admin shutdown, crash, termination) or can't be had. */
const CONNECTION_SQLSTATES = /^(08|57P0[1-3]|53300|28|3D000)/;
/** Of those, the ones where the statement surely did not run: safe to send again on a new connection. */
const NOT_RUN_SQLSTATES = new Set(['57P01', '57P02', '57P03']);

const data = workerData as WorkerData;
const { control, port } = data;

let client: pg.Client | null = null;
let alive = false;
/** The transaction begun on the current connection (0: none). */
let connectionTx = 0;
let closed = false;

function describe(err: unknown): WorkerError {
  const e = err as { message?: string; code?: string; severity?: string };
  const message = e?.message ?? String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  // a server error (severity set) with a non-connection SQLSTATE is the statement's fault
  const isServerSqlError = e?.severity !== undefined && code !== undefined && !CONNECTION_SQLSTATES.test(code);
  return { message, ...(code ? { code } : {}), kind: isServerSqlError ? 'sql' : 'connection' };
}

function drop(): void {
  const c = client;
  client = null;
  alive = false;
  connectionTx = 0;
  // end() destroys the socket when a query is still active (a hung server), else says goodbye
  if (c) void c.end().catch(() => undefined);
}

async function connection(): Promise<pg.Client> {
  if (client && alive) return client;
  drop();
  const c = new pg.Client(data.client);
  c.on('error', () => {
    // the session is gone (terminated, server stopped): the next request reconnects
    if (client === c) alive = false;
  });
  c.on('end', () => {
    if (client === c) alive = false;
  });
  client = c;
  try {
    await c.connect();
  } catch (err) {
    if (client === c) drop();
    throw err;
  }
  alive = true;
  return c;
}

function reply(message: WorkerResponse): void {
  port.postMessage(message);
  Atomics.add(control, 0, 1);
  Atomics.notify(control, 0);
}

async function run(req: Extract<WorkerRequest, { kind: 'query' | 'exec' }>, again = true): Promise<WorkerResponse> {
  const partOfTx = req.tx !== 0 && !('begins' in req && req.begins);
  // the connection the transaction began on must still be the live one
  if (partOfTx && (!client || !alive || req.tx !== connectionTx)) {
    if ('ends' in req && req.ends) return { id: req.id, ok: true, rows: [], rowCount: 0 };
    return { id: req.id, ok: false, error: { kind: 'connection', message: 'the connection was lost during the transaction (the server rolled it back)' } };
  }
  try {
    const c = await connection();
    if (req.kind === 'exec') {
      await c.query(req.sql);
      return { id: req.id, ok: true, rows: [], rowCount: 0 };
    }
    const res = await c.query({ text: req.sql, values: req.params });
    if (req.begins) connectionTx = req.tx;
    if (req.ends) connectionTx = 0;
    const binary = res.fields.filter((f) => f.dataTypeID === BYTEA).map((f) => f.name);
    return { id: req.id, ok: true, rows: res.rows as Array<Record<string, unknown>>, rowCount: res.rowCount ?? 0, ...(binary.length ? { binary } : {}) };
  } catch (err) {
    const error = describe(err);
    if (error.kind === 'connection') {
      drop();
      // terminated while idle: the statement never ran; outside a transaction send it once more
      if (again && req.tx === 0 && error.code !== undefined && NOT_RUN_SQLSTATES.has(error.code)) return run(req, false);
    }
    return { id: req.id, ok: false, error };
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  if (req.kind === 'reset') {
    drop();
    return;
  }
  chain = chain.then(async () => {
    if (req.kind === 'close') {
      closed = true;
      const c = client;
      client = null;
      alive = false;
      await c?.end().catch(() => undefined);
      reply({ id: req.id, ok: true, rows: [], rowCount: 0 });
      port.close();
      parentPort?.close();
      return;
    }
    if (closed) return;
    reply(await run(req));
  });
});
