/**
 * Scenario 11 — per-call latency of the state store facade: N `getRun` calls (a primary-key SELECT, the
 * stores' most common read) and N `updateRun` calls (a one-row UPDATE), on the embedded SQLite
 * file and on the PostgreSQL facade (worker thread + Atomics.wait, TLS, the stack's server on
 * loopback); beside them the same SELECT through an async `pg` client on the main thread, to
 * separate the server round trip from the facade's thread hop.
 *
 *     npm run bench -- 11 --skip-peers            (results into BENCHMARKS.md)
 *     npx tsx bench/scenarios/11-store-latency.ts [--calls 10000]   (alone: prints the rows)
 *
 * Starts the stack's PostgreSQL when it is not running (npm run stack -- up postgres); creates
 * and drops a fresh database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { up } from '../../stack/manager';
import { stackPostgresConfig } from '../../stack/services/postgres';
import { stackTls } from '../../stack/tls';
import { endpoints } from '../../stack/endpoints';
import { openDatabase } from '../../src/store/database';
import { createRunStore } from '../../src/store/runs';
import type { SqlDatabase } from '../../src/store/sql';

import type { Row, Scenario, ScenarioContext } from '../lib/types';

let CALLS = 10_000;

interface Stats {
  calls: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { calls: samples.length, meanUs: round(samples.reduce((a, b) => a + b, 0) / samples.length), p50Us: round(at(0.5)), p99Us: round(at(0.99)) };
}

function timeSync(fn: (i: number) => void): Stats {
  for (let i = 0; i < Math.min(500, CALLS); i++) fn(i); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return stats(samples);
}

function measure(db: SqlDatabase): { getRun: Stats; updateRun: Stats } {
  const runs = createRunStore(db);
  const { run } = runs.insertRun({ pipeline: 'bench', logicalDate: 0, kind: 'manual', firedAt: 1, queuedAt: 1 });
  return {
    getRun: timeSync(() => {
      if (!runs.getRun(run.id)) throw new Error('run not found');
    }),
    updateRun: timeSync((i) => runs.updateRun(run.id, { reason: `r${i}` })),
  };
}

async function measureAll(log: (m: string) => void) {
  await up(['postgres'], { log: { info: () => undefined, warn: log } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-bench-store-'));
  const database = `bench_store_${process.pid}_${Date.now()}`;
  const owner = new Client(stackPostgresConfig());
  await owner.connect();
  await owner.query(`CREATE DATABASE ${owner.escapeIdentifier(database)}`);
  try {
    const sqlite = openDatabase({ store: { kind: 'sqlite', path: path.join(dir, 'state.db') } });
    const sqliteResult = measure(sqlite);
    sqlite.close();

    const pg = endpoints.postgres;
    const facade = openDatabase({
      store: {
        kind: 'postgres',
        host: 'localhost',
        port: pg.port,
        database,
        user: pg.user,
        password: pg.password,
        ssl: { ca: [fs.readFileSync(stackTls().caFile)] },
        timeoutMs: 5_000,
        display: `postgres://${pg.user}@localhost:${pg.port}/${database}`,
      },
    });
    const postgresResult = measure(facade);
    const id = createRunStore(facade).listRuns({ pipeline: 'bench' })[0]!.id;
    facade.close();

    // the same SELECT through pg's async API on this thread: the server round trip alone
    const direct = new Client(stackPostgresConfig({ database }));
    await direct.connect();
    for (let i = 0; i < 500; i++) await direct.query('SELECT * FROM runs WHERE id = $1', [id]);
    const samples: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = process.hrtime.bigint();
      await direct.query('SELECT * FROM runs WHERE id = $1', [id]);
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await direct.end();

    return { loadavg: os.loadavg().map((l) => Math.round(l * 10) / 10), sqlite: sqliteResult, postgres: postgresResult, pgAsyncSelect: stats(samples) };
  } finally {
    await owner.query(`DROP DATABASE IF EXISTS ${owner.escapeIdentifier(database)} WITH (FORCE)`);
    await owner.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const METHOD = (what: string): string =>
  `${what}: ${CALLS} sequential calls after 500 warm-up ones, each timed with process.hrtime; SQLite = a WAL file in the temp folder; PostgreSQL = the facade (pg in a worker thread, Atomics.wait) over TLS to the stack's PostgreSQL 15 on loopback, a fresh database`;

export const scenario: Scenario = {
  id: '11',
  title: 'State store: per-call latency, SQLite and the PostgreSQL facade',
  goal: 'PostgreSQL facade getRun mean ≤ 1 ms and ≤ 1.5× the same SELECT through async pg (the thread hop costs little)',
  limits:
    "A PostgreSQL call is one round trip to the server plus a thread hop (postMessage to the store's worker, Atomics.notify back); the round trip dominates. Writes also wait for the server's WAL flush at commit. SQLite answers in-process. The engine makes a few store calls per task transition, so a run costs milliseconds more on PostgreSQL, not seconds; a hung server costs one store.timeout, then the breaker fails calls at once.",
  async run(ctx: ScenarioContext): Promise<Row[]> {
    if (ctx.args.calls) CALLS = Number(ctx.args.calls);
    const r = await measureAll(ctx.log);
    const row = (metric: string, unit: string, supervisor: number, peers: Record<string, number | string>, goal: string, met: boolean | null, method: string): Row => ({
      scenario: '11',
      metric,
      unit,
      supervisor,
      peers,
      ratio: null,
      goal,
      met,
      method,
      detail: r,
    });
    const ratio = r.postgres.getRun.meanUs / r.pgAsyncSelect.meanUs;
    return [
      row('getRun on SQLite, mean', 'µs', r.sqlite.getRun.meanUs, {}, '—', null, METHOD(`createRunStore(db).getRun(id), p99 ${r.sqlite.getRun.p99Us} µs`)),
      row('updateRun on SQLite, mean', 'µs', r.sqlite.updateRun.meanUs, {}, '—', null, METHOD(`updateRun(id, { reason }), p99 ${r.sqlite.updateRun.p99Us} µs`)),
      row(
        'getRun on PostgreSQL (facade), mean',
        'µs',
        r.postgres.getRun.meanUs,
        {},
        '≤ 1000 µs, ≤ 1.5× async pg',
        r.postgres.getRun.meanUs <= 1000 && ratio <= 1.5,
        METHOD(
          `getRun(id), p50 ${r.postgres.getRun.p50Us} µs, p99 ${r.postgres.getRun.p99Us} µs; beside it the same SELECT awaited through pg on the main thread: mean ${r.pgAsyncSelect.meanUs} µs (p99 ${r.pgAsyncSelect.p99Us} µs); facade / async = ${ratio.toFixed(2)}; load ${r.loadavg.join(' ')}`,
        ),
      ),
      row(
        'updateRun on PostgreSQL (facade), mean',
        'µs',
        r.postgres.updateRun.meanUs,
        {},
        '—',
        null,
        METHOD(`updateRun(id, { reason }) (autocommit: waits for the WAL flush), p99 ${r.postgres.updateRun.p99Us} µs`),
      ),
    ];
  },
};

if (require.main === module) {
  const i = process.argv.indexOf('--calls');
  const ctx: ScenarioContext = {
    reps: 1,
    skipPeers: true,
    work: '/tmp',
    log: (m) => process.stderr.write(`[bench 11] ${m}\n`),
    args: i > 0 ? { calls: process.argv[i + 1]! } : {},
    peer: () => undefined,
  };
  scenario.run(ctx).then(
    (rows) => {
      for (const r of rows) process.stdout.write(`${r.metric}: ${r.supervisor} ${r.unit} ${JSON.stringify(r.peers)} (${r.method})\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
