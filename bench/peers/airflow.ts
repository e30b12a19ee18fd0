/**
 * Apache Airflow peer: installed from PyPI into bench/.work/airflow-venv (pinned version, pip
 * resolves the rest: the constraints files are not on a reachable registry), run as
 * `airflow standalone` (scheduler, dag-processor, api-server, triggerer; LocalExecutor on SQLite)
 * with the DAGs of bench/peers/airflow-dags/ (the seed's two DAGs + bench_chain).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { pssBytes, spawnLogged, type Spawned } from '../lib/proc';
import { cmdline, processTree, rssBytes, sleep } from '../lib/stats';
import type { ScenarioContext } from '../lib/types';
import type { ChainSamples } from '../scenarios/1-schedule-delay';

export const AIRFLOW_VERSION = process.env.BENCH_AIRFLOW_VERSION ?? '3.3.2';
const API_PORT = Number(process.env.BENCH_AIRFLOW_PORT ?? 18790);
const DAGS = path.join(__dirname, 'airflow-dags');

export function ensureAirflow(ctx: ScenarioContext): string {
  const venv = path.join(ctx.work, 'airflow-venv');
  const bin = path.join(venv, 'bin', 'airflow');
  const marker = path.join(venv, `.installed-${AIRFLOW_VERSION}`);
  if (!fs.existsSync(marker)) {
    ctx.log(`installing apache-airflow==${AIRFLOW_VERSION} from PyPI into ${venv} (several minutes the first time)…`);
    if (!fs.existsSync(path.join(venv, 'bin', 'pip'))) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    try {
      execFileSync(path.join(venv, 'bin', 'pip'), ['install', '-q', `apache-airflow==${AIRFLOW_VERSION}`], { stdio: ['ignore', 'inherit', 'pipe'] });
    } catch (err) {
      const msg = String((err as { stderr?: Buffer }).stderr ?? err)
        .trim()
        .split('\n')
        .slice(-3)
        .join(' ');
      ctx.peer(`Apache Airflow ${AIRFLOW_VERSION}`, `could not be installed: ${msg}`);
      throw new Error(`pip install apache-airflow==${AIRFLOW_VERSION} failed: ${msg}`);
    }
    fs.writeFileSync(marker, new Date().toISOString());
  }
  ctx.peer(
    `Apache Airflow ${AIRFLOW_VERSION}`,
    `pip install apache-airflow==${AIRFLOW_VERSION} (PyPI, Python ${execFileSync('python3', ['--version']).toString().trim().split(' ')[1]}) into bench/.work/airflow-venv; \`airflow standalone\`: scheduler, dag-processor, api-server, triggerer; LocalExecutor on SQLite; default settings except ports (api on ${API_PORT}, execution API URL pointing at it: the default :8080 is the Spark master UI here)`,
  );
  return bin;
}

export interface AirflowInstance {
  home: string;
  proc: Spawned;
  /** ms from spawn to every component healthy */
  readyMs: number;
  db(): Database.Database;
  /** Components (scheduler, dag-processor, api-server, triggerer) and their children; the standalone wrapper is separate. */
  memory(): { rss: number; pss: number; wrapperRss: number; processes: { pid: number; cmd: string; rss: number }[] };
  stop(): Promise<void>;
}

/** A DAG folder with only the seed's two DAGs (footprint: the same work as the supervisor's default config). */
export function seedDagsFolder(ctx: ScenarioContext): string {
  const dir = path.join(ctx.work, 'airflow-seed-dags');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['domain_ingestion_dag.py', 'monitoring_dag.py']) fs.copyFileSync(path.join(DAGS, f), path.join(dir, f));
  return dir;
}

export async function startAirflow(
  ctx: ScenarioContext,
  opts: { fresh: boolean; chainSeconds?: number; chainPaused?: boolean; home?: string; timeoutMs?: number; dagsFolder?: string },
): Promise<AirflowInstance> {
  const bin = ensureAirflow(ctx);
  const home = opts.home ?? path.join(ctx.work, 'airflow-home');
  if (opts.fresh) fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(bin)}:${process.env.PATH}`,
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: opts.dagsFolder ?? DAGS,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
    AIRFLOW__API__HOST: '127.0.0.1',
    AIRFLOW__API__PORT: String(API_PORT),
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://127.0.0.1:${API_PORT}/execution/`,
    BENCH_CHAIN_SECONDS: String(opts.chainSeconds ?? 15),
    BENCH_CHAIN_PAUSED: opts.chainPaused === false ? '0' : '1',
  };
  const inUse = await fetch(`http://127.0.0.1:${API_PORT}/`, { signal: AbortSignal.timeout(1000) }).then(
    () => true,
    () => false,
  );
  if (inUse) throw new Error(`port ${API_PORT} is already in use (a leftover Airflow api-server?); set BENCH_AIRFLOW_PORT or stop it`);
  const proc = spawnLogged(bin, ['standalone'], { env, log: path.join(ctx.work, 'airflow-standalone.log') });
  const t0 = Date.now();
  const deadline = t0 + (opts.timeoutMs ?? 300_000);
  let readyMs = -1;
  while (Date.now() < deadline) {
    if (proc.exited()) throw new Error(`airflow standalone exited during start-up; see bench/.work/airflow-standalone.log`);
    try {
      const res = await fetch(`http://127.0.0.1:${API_PORT}/api/v2/monitor/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        const h = (await res.json()) as Record<string, { status: string }>;
        if (['metadatabase', 'scheduler', 'triggerer', 'dag_processor'].every((k) => h[k]?.status === 'healthy')) {
          readyMs = Date.now() - t0;
          break;
        }
      }
    } catch {
      /* not yet */
    }
    await sleep(250);
  }
  if (readyMs < 0) {
    await proc.stop();
    throw new Error('airflow standalone not healthy within the timeout');
  }
  return {
    home,
    proc,
    readyMs,
    db: () => new Database(path.join(home, 'airflow.db'), { readonly: true, fileMustExist: true }),
    memory() {
      const processes = processTree(proc.pid)
        .filter((p) => p !== proc.pid)
        .map((pid) => ({ pid, cmd: cmdline(pid).slice(0, 120), rss: rssBytes(pid), pss: pssBytes(pid) }));
      return {
        rss: processes.reduce((s, p) => s + p.rss, 0),
        pss: processes.reduce((s, p) => s + p.pss, 0),
        wrapperRss: rssBytes(proc.pid),
        processes: processes.map(({ pid, cmd, rss }) => ({ pid, cmd, rss })),
      };
    },
    stop: () => proc.stop(20_000),
  };
}

const ts = (s: string | null): number | null => (s ? Date.parse(s.replace(' ', 'T') + (/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? '' : 'Z')) : null);

export async function measureAirflowChain(ctx: ScenarioContext, ticks: number, seconds: number): Promise<ChainSamples & { timedOut: boolean }> {
  const budgetMs = Number(ctx.args['airflow-minutes'] ?? 20) * 60_000;
  const af = await startAirflow(ctx, { fresh: true, chainSeconds: seconds, chainPaused: false });
  ctx.log(`airflow healthy after ${(af.readyMs / 1000).toFixed(1)} s; waiting for ${ticks + 1} bench_chain runs (budget ${budgetMs / 60000} min)…`);
  const deadline = Date.now() + budgetMs;
  let timedOut = false;
  let rows: { run_id: string; run_after: string; task_id: string; start_date: string | null; end_date: string | null; state: string | null }[] = [];
  try {
    for (;;) {
      await sleep(5000);
      const db = af.db();
      try {
        rows = db
          .prepare(
            `select r.run_id, r.run_after, t.task_id, t.start_date, t.end_date, t.state from dag_run r join task_instance t on t.dag_id = r.dag_id and t.run_id = r.run_id
             where r.dag_id = 'bench_chain' and r.state in ('success', 'failed') order by r.run_after`,
          )
          .all() as typeof rows;
      } catch {
        rows = [];
      } finally {
        db.close();
      }
      const finished = new Set(rows.map((r) => r.run_id)).size;
      if (finished >= ticks + 1) break;
      if (Date.now() > deadline) {
        timedOut = true;
        ctx.log(`airflow: only ${finished} runs finished within the budget; using them`);
        break;
      }
    }
  } finally {
    await af.stop();
  }
  const byRun = new Map<string, typeof rows>();
  for (const r of rows) byRun.set(r.run_id, [...(byRun.get(r.run_id) ?? []), r]);
  const scheduleDelayMs: number[] = [];
  const interTaskMs: number[] = [];
  // the first run is created when the DAG is first parsed, not on a boundary: drop it, like the supervisor's
  for (const [, tis] of [...byRun].slice(1, ticks + 1)) {
    const get = (id: string) => tis.find((t) => t.task_id === id);
    const t1 = get('t1');
    const s1 = ts(t1?.start_date ?? null);
    const runAfter = ts(tis[0]!.run_after);
    if (s1 !== null && runAfter !== null && t1?.state === 'success') scheduleDelayMs.push(s1 - runAfter);
    for (const [a, b] of [
      ['t1', 't2'],
      ['t2', 't3'],
    ] as const) {
      const ta = get(a);
      const tb = get(b);
      const e = ts(ta?.end_date ?? null);
      const s = ts(tb?.start_date ?? null);
      if (ta?.state === 'success' && tb?.state === 'success' && e !== null && s !== null) interTaskMs.push(s - e);
    }
  }
  return { ticks: scheduleDelayMs.length, scheduleDelayMs, interTaskMs, timedOut };
}
