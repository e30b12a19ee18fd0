/**
 * The worker thread of the PostgreSQL facade: one `pg` connection, one request at a time, in
 * the order they come. The facade blocks its (main) thread on `Atomics.wait` until the answer is
 * posted, so the statements of a transaction reach this one connection back to back.
 *
 * A request carries one or more statements. The connection is in pg's pipeline mode: they are
 * written back to back, each with its own Sync, and answered in order, so a request costs one
 * round trip to the server however many statements it holds. The first failure is reported with
 * its index; in a transaction the server refuses every statement after it (the transaction is
 * aborted), and a COMMIT after it answers ROLLBACK, which is reported as a failure too.
 *
 * A lost connection (server restart, pg_terminate_backend, network) is dropped and the next
 * request connects again. Statements of a transaction begun on a connection that is gone are
 * refused: the server rolled that transaction back, and running the rest on a new connection
 * would commit half of it.
 */
import { createHash } from 'node:crypto';
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
  if (!c) return;
  // a pipelining client's end() waits for the queries on the wire: a hung server would keep the
  // socket forever, so it is destroyed at once (pg's own end() does so for a dead socket)
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  void c.end().catch(() => undefined);
}

async function connection(): Promise<pg.Client> {
  if (client && alive) return client;
  drop();
  // a new session has no prepared statements: the names start over
  forgetPrepared();
  const c = new pg.Client({ ...data.client, pipeline: true });
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

/**
 * Server-side prepared statements: a statement with parameters seen again is sent named (pg
 * parses and plans it once per connection, then only binds and executes it: planning the
 * schedule's statement cost ≈ 2 ms of its ≈ 4 ms, BENCHMARKS.md scenario 1). A statement run
 * once (dynamic SQL) stays unnamed. At most PREPARED_MAX names per connection (a new
 * connection starts over); `generation` renames them all after a schema change made a prepared
 * `SELECT *` stale (0A000, "cached plan must not change result type"): that call fails once
 * inside a transaction, and is sent again unnamed outside one.
 */
const PREPARED_MAX = 500;
const seen = new Map<string, string | null>();
let generation = 0;
let prepared = 0;

function nameOf(sql: string): string | undefined {
  const known = seen.get(sql);
  if (known) return known;
  if (known === undefined) {
    // first sight: unnamed; remembered (bounded) to be named when it comes again
    if (seen.size >= 4 * PREPARED_MAX) seen.clear();
    seen.set(sql, null);
    return undefined;
  }
  if (prepared >= PREPARED_MAX) return undefined;
  const name = `sup${generation}_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
  prepared += 1;
  seen.set(sql, name);
  return name;
}

/** Every name forgotten: the next uses prepare again under new names (the server keeps the old ones until the connection ends). */
function forgetPrepared(): void {
  seen.clear();
  prepared = 0;
  generation += 1;
}

const STALE_PLAN = '0A000';

type QueryRequest = Extract<WorkerRequest, { kind: 'query' }>;
type Settled = { ok: true; res: pg.QueryResult } | { ok: false; err: unknown };

async function run(req: QueryRequest, again = true, named = true): Promise<WorkerResponse> {
  const partOfTx = req.tx !== 0 && !req.begins;
  // the connection the transaction began on must still be the live one
  if (partOfTx && (!client || !alive || req.tx !== connectionTx)) {
    // a ROLLBACK of a transaction the server already rolled back has nothing to do; a COMMIT of it must fail
    if (req.ends === 'rollback') return { id: req.id, ok: true, rows: [], rowCount: 0 };
    return { id: req.id, ok: false, index: 0, error: { kind: 'connection', message: 'the connection was lost during the transaction (the server rolled it back)' } };
  }
  let settled: Settled[];
  try {
    const c = await connection();
    // all written at once (pipeline mode); each answered in order
    settled = await Promise.all(
      req.statements.map((s) => {
        const name = named && s.params.length > 0 ? nameOf(s.sql) : undefined;
        return (s.params.length > 0 ? c.query({ text: s.sql, values: s.params, ...(name ? { name } : {}) }) : c.query(s.sql)).then(
          (res): Settled => ({ ok: true, res: Array.isArray(res) ? (res[res.length - 1] as pg.QueryResult) : res }),
          (err: unknown): Settled => ({ ok: false, err }),
        );
      }),
    );
  } catch (err) {
    settled = [{ ok: false, err }];
  }
  const failed = settled.findIndex((s) => !s.ok);
  if (failed >= 0) {
    const error = describe((settled[failed] as { err: unknown }).err);
    if (error.code === STALE_PLAN && /cached plan/i.test(error.message)) {
      forgetPrepared();
      // a lone statement outside a transaction did not run: sent again, unnamed
      if (named && req.tx === 0 && req.statements.length === 1) return run(req, again, false);
    }
    if (error.kind === 'connection') {
      drop();
      // terminated while idle: the statement never ran; a lone statement outside a transaction is sent once more
      if (again && req.tx === 0 && req.statements.length === 1 && error.code !== undefined && NOT_RUN_SQLSTATES.has(error.code)) return run(req, false, named);
    } else if (req.begins && failed > 0) connectionTx = req.tx;
    return { id: req.id, ok: false, index: failed, error };
  }
  const last = (settled[settled.length - 1] as { res: pg.QueryResult }).res;
  if (req.begins) connectionTx = req.tx;
  if (req.ends) {
    connectionTx = 0;
    // COMMIT of a transaction an earlier statement aborted: the server rolled it back
    if (req.ends === 'commit' && last.command !== 'COMMIT')
      return {
        id: req.id,
        ok: false,
        index: settled.length - 1,
        error: { kind: 'sql', message: `the transaction was rolled back by the server (COMMIT answered ${last.command})` },
      };
  }
  const binaryOf = (res: pg.QueryResult): string[] => (res.fields ?? []).filter((f) => f.dataTypeID === BYTEA).map((f) => f.name);
  const binary = binaryOf(last);
  const answers = (req.answers ?? []).flatMap((index) => {
    const s = settled[index];
    if (!s?.ok) return [];
    const b = binaryOf(s.res);
    return [{ index, rows: (s.res.rows ?? []) as Array<Record<string, unknown>>, ...(b.length ? { binary: b } : {}) }];
  });
  return {
    id: req.id,
    ok: true,
    rows: (last.rows ?? []) as Array<Record<string, unknown>>,
    rowCount: last.rowCount ?? 0,
    ...(binary.length ? { binary } : {}),
    ...(answers.length ? { answers } : {}),
  };
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
