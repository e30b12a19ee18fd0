/**
 * Scenario 13 — runs per second through the store with 4 task workers (issue 19): the daemon
 * (`node bin/supervisor.js start`) in `executor.mode: workers` and 4 `supervisor worker`
 * processes (concurrency 4 each) on one store, SQLite (the same file) and a fresh PostgreSQL
 * database of the stack (TLS). A backfill through the API of N hourly runs of one trivial task
 * (`command: [true]`, max_active 32) is timed from the POST to the last run `success` (the
 * store polled every 100 ms); runs/s = N / that time. Every date is checked to have one run.
 *
 *     npm run bench -- 13 --skip-peers [--runs 200]   (results into BENCHMARKS.md)
 *     npx tsx bench/scenarios/13-task-workers.ts [--runs 200]   (alone: prints the rows)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { up } from '../../stack/manager';
import { stackPostgresConfig } from '../../stack/services/postgres';
import { stackTls } from '../../stack/tls';
import { endpoints } from '../../stack/endpoints';
import { round, sleep } from '../lib/stats';
import { freePort } from '../lib/proc';
import { ensureBuilt } from '../lib/supervisor-process';
import { REPO } from '../lib/supervisor';
import type { Row, Scenario, ScenarioContext } from '../lib/types';

const BIN = path.join(REPO, 'bin', 'supervisor.js');
const HOUR = 3_600_000;

function spawnLogged(args: string[], logFile: string): { child: ChildProcess; exited: Promise<void> } {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
}

async function oneBackend(ctx: ScenarioContext, backend: 'sqlite' | 'postgres', runs: number): Promise<{ seconds: number; runsPerSecond: number; workersUsed: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sup-bench-workers-${backend}-`));
  const database = `sup_bench_workers_${process.pid}_${Date.now()}`;
  const port = await freePort();
  const config: Record<string, unknown> = {
    server: { host: '127.0.0.1', port },
    store: { path: 'state.db' },
    logging: { level: 'warn', format: 'json' },
    executor: { mode: 'workers', heartbeat_timeout: '30s' },
    pipelines: { bf: { schedule: '0 * * * *', max_active_runs: 32, tasks: [{ id: 't', operator: 'command', params: { command: ['true'] } }] } },
  };
  let admin: Client | undefined;
  if (backend === 'postgres') {
    const owner = new Client(stackPostgresConfig());
    await owner.connect();
    await owner.query(`CREATE DATABASE ${owner.escapeIdentifier(database)}`);
    await owner.end();
    fs.writeFileSync(path.join(dir, 'pg-password'), endpoints.postgres.password);
    config.store = {
      url: `postgres://${endpoints.postgres.user}@localhost:${endpoints.postgres.port}/${database}`,
      password_file: path.join(dir, 'pg-password'),
      ssl: { ca_file: stackTls().caFile },
    };
    admin = new Client(stackPostgresConfig({ database }));
  }
  const file = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(file, stringify(config));
  const token = (
    JSON.parse(execFileSync(process.execPath, [BIN, '--config', file, '--json', 'tokens', 'create', '--name', 'bench'], { cwd: REPO, encoding: 'utf8' }).trim()) as {
      token: string;
    }
  ).token;
  const procs: { child: ChildProcess; exited: Promise<void> }[] = [];
  try {
    const daemon = spawnLogged(['--config', file, 'start'], path.join(dir, 'daemon.log'));
    procs.push(daemon);
    const url = `http://127.0.0.1:${port}`;
    for (let end = Date.now() + 90_000; (await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200; await sleep(200)) {
      if (Date.now() > end) throw new Error(`the daemon did not get ready (${dir}/daemon.log)`);
    }
    for (let i = 1; i <= 4; i++) procs.push(spawnLogged(['--config', file, 'worker', '--name', `w${i}`, '--concurrency', '4'], path.join(dir, `worker-${i}.log`)));
    await sleep(3_000); // the workers open the store and start polling
    if (admin) await admin.connect();
    const sqlite = backend === 'sqlite' ? new Database(path.join(dir, 'state.db'), { readonly: true }) : undefined;
    const q = async (sql: string): Promise<Record<string, unknown>[]> =>
      admin ? ((await admin.query(sql)).rows as Record<string, unknown>[]) : (sqlite!.prepare(sql).all() as Record<string, unknown>[]);
    const start = Date.UTC(2025, 0, 1);
    const last = start + (runs - 1) * HOUR;
    const range = `pipeline = 'bf' AND logical_date BETWEEN ${start} AND ${last}`;
    const t0 = performance.now();
    const res = await fetch(`${url}/api/v1/pipelines/bf/backfill`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ start_date: new Date(start).toISOString(), end_date: new Date(last).toISOString(), max_active: 32 }),
    });
    if (res.status !== 202) throw new Error(`backfill answered ${res.status}: ${await res.text()}`);
    for (let end = Date.now() + 600_000; Number((await q(`SELECT COUNT(*) AS n FROM runs WHERE ${range} AND state = 'success'`))[0]!.n) < runs; await sleep(100)) {
      if (Date.now() > end) throw new Error(`the backfill did not finish in 10 min (${dir})`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const perDate = await q(`SELECT COUNT(*) AS n FROM runs WHERE ${range} GROUP BY logical_date`);
    if (perDate.length !== runs || perDate.some((r) => Number(r.n) !== 1)) throw new Error('a logical date has no run or more than one');
    const workersUsed = (await q(`SELECT DISTINCT claimed_by FROM task_queue`)).length;
    sqlite?.close();
    ctx.log(`${backend}: ${runs} runs in ${seconds.toFixed(1)} s (${(runs / seconds).toFixed(1)} runs/s), ${workersUsed} workers claimed tries`);
    return { seconds, runsPerSecond: runs / seconds, workersUsed };
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    if (admin) await admin.end().catch(() => undefined);
    if (backend === 'postgres') {
      const c = new Client(stackPostgresConfig());
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`);
      await c.end();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const scenario: Scenario = {
  id: '13',
  title: 'Task workers: runs per second through the store',
  goal: 'a backfill with 4 workers completes every logical date once; runs/s on PostgreSQL beside SQLite',
  limits:
    "Each run costs its store writes (run claim, task instance, attempt, queue row, log) plus the worker's process spawn (the task wrapper and `true`), and the tries wait for the polls: the runner reads its row every 200 ms (executor.poll_interval) and an idle worker claims every 500 ms. On 2 shared cores the spawns dominate.",
  async run(ctx: ScenarioContext): Promise<Row[]> {
    ensureBuilt(ctx);
    await up(['postgres'], { log: { info: () => undefined, warn: (m: string) => ctx.log(m) } });
    const runs = Number(ctx.args.runs ?? 200) || 200;
    const out: Row[] = [];
    for (const backend of ['sqlite', 'postgres'] as const) {
      const r = await oneBackend(ctx, backend, runs);
      out.push({
        scenario: '13',
        metric: `runs per second with 4 workers, ${backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`,
        unit: 'runs/s',
        supervisor: round(r.runsPerSecond),
        peers: {},
        ratio: null,
        goal: 'every date once',
        met: true,
        method: `${backend === 'sqlite' ? 'SQLite (one WAL file, same host)' : 'PostgreSQL (a fresh database of the stack, TLS, loopback)'}: backfill of ${runs} hourly runs through POST /api/v1/pipelines/bf/backfill (max_active 32), one task command: [true]; daemon in executor.mode workers + 4 supervisor worker processes (concurrency 4); POST → last run success (store polled every 100 ms), ${r.seconds.toFixed(1)} s; ${r.workersUsed} workers claimed tries`,
        detail: r,
      });
    }
    return out;
  },
};

if (require.main === module) {
  const i = process.argv.indexOf('--runs');
  const args: Record<string, string> = i > 0 ? { runs: process.argv[i + 1]! } : {};
  void scenario
    .run({ reps: 1, skipPeers: true, work: os.tmpdir(), log: (m) => console.log(m), args, peer: () => undefined })
    .then((rows) => console.log(JSON.stringify(rows, null, 2)));
}
