/**
 * Scenario 1 — schedule → task start. The same DAG shape in both systems: three chained tasks
 * each running `true` in a subprocess. Schedule delay = cron boundary (logical date / run_after)
 * → first task running; inter-task overhead = a task ends → the next one running.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { RunEvent } from '../../src/protocol';
import { measureAirflowChain } from '../peers/airflow';
import { median, percentile, round, sleep, summary } from '../lib/stats';
import { postgresStoreSection, withFreshPostgresStore } from '../lib/postgres-store';
import { chainConfig, startDaemon, writeConfig } from '../lib/supervisor';
import { betterRatio, type Row, type Scenario, type ScenarioContext } from '../lib/types';
import type { ScheduleDelaySamples, WindowCalls } from '../schedule-delay';

const EPOCH_MS = performance.timeOrigin;
/** Wall time in ms with sub-millisecond precision (monotonic offset from the process start). */
const nowMs = (): number => EPOCH_MS + performance.now();

export interface ChainSamples {
  ticks: number;
  scheduleDelayMs: number[];
  interTaskMs: number[];
  /** Control: lateness of a bare setTimeout aimed at each x.5 s boundary in the same process. */
  timerLatenessMs?: number[];
  /** Event-loop delay p99 over the run (perf_hooks.monitorEventLoopDelay, ms). */
  eventLoopP99Ms?: number;
  /** Decomposition of the schedule delay: cron boundary → trigger fired, fired → first task running. */
  firedLateMs?: number[];
  firedToRunningMs?: number[];
}

/**
 * The daemon (createDaemon in-process) running bench_chain; `store` replaces the config's
 * SQLite `store:` section (a PostgreSQL one: then the daemon runs the leader lease, as every
 * replica of a shared store does).
 */
export async function measureSupervisorChain(ctx: ScenarioContext, ticks: number, scheduleSeconds: number, store?: string): Promise<ChainSamples> {
  const dir = path.join(ctx.work, 'scenario-1');
  const cron = scheduleSeconds === 1 ? '* * * * * *' : `*/${scheduleSeconds} * * * * *`;
  const sqliteSection = 'store:\n  path: __STORE__\n';
  const yaml = chainConfig(cron);
  if (store !== undefined && !yaml.includes(sqliteSection)) throw new Error("bench/lib/supervisor.ts chainConfig has no 'store: path: __STORE__' section to replace");
  const daemon = await startDaemon(writeConfig(dir, store === undefined ? 'chain' : 'chain-postgres', store === undefined ? yaml : yaml.replace(sqliteSection, store)));
  if (store !== undefined && !daemon.leadership.shared) throw new Error('the daemon did not open the PostgreSQL store (no shared leadership)');
  const runs = new Map<string, { logicalDate: number; firedAt?: number; events: { task: string; state: string; t: number }[] }>();
  // Control: how late does a bare timer fire in this process, on this machine, meanwhile?
  const timerLatenessMs: number[] = [];
  let control: NodeJS.Timeout | undefined;
  const armControl = () => {
    const target = (Math.floor(Date.now() / 1000) + 1) * 1000 + 500;
    control = setTimeout(() => {
      timerLatenessMs.push(nowMs() - target);
      armControl();
    }, target - Date.now());
  };
  armControl();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const done: string[] = [];
  const sub = daemon.engine.runEvents$.subscribe((e: RunEvent) => {
    const t = nowMs(); // observed synchronously when the engine emits
    if (e.type === 'task' || e.trigger === 'cron') {
      let r = runs.get(e.runId);
      if (!r) runs.set(e.runId, (r = { logicalDate: e.logicalDate, events: [] }));
      if (e.type === 'task') {
        r.events.push({ task: e.taskId, state: e.state, t });
      } else {
        if (e.firedAt !== undefined) r.firedAt = e.firedAt;
        if (e.state === 'success' || e.state === 'failed') done.push(e.runId);
      }
    }
  });
  try {
    const deadline = Date.now() + (ticks + 5) * scheduleSeconds * 1000 + 30_000;
    while (done.length < ticks + 1 && Date.now() < deadline) await sleep(200);
  } finally {
    sub.unsubscribe();
    clearTimeout(control);
    loop.disable();
    await daemon.stop();
  }
  const scheduleDelayMs: number[] = [];
  const interTaskMs: number[] = [];
  const firedLateMs: number[] = [];
  const firedToRunningMs: number[] = [];
  // the first run may start mid-second while the daemon starts: drop it
  for (const runId of done.slice(1, ticks + 1)) {
    const r = runs.get(runId)!;
    const running = (task: string) => r.events.find((x) => x.task === task && x.state === 'running')?.t;
    const ended = (task: string) => r.events.find((x) => x.task === task && x.state === 'success')?.t;
    const t1 = running('t1');
    if (t1 === undefined) continue;
    scheduleDelayMs.push(t1 - r.logicalDate);
    if (r.firedAt !== undefined) {
      firedLateMs.push(r.firedAt - r.logicalDate);
      firedToRunningMs.push(t1 - r.firedAt);
    }
    for (const [a, b] of [
      ['t1', 't2'],
      ['t2', 't3'],
    ] as const) {
      const e = ended(a);
      const s = running(b);
      if (e !== undefined && s !== undefined) interTaskMs.push(s - e);
    }
  }
  return { ticks: scheduleDelayMs.length, scheduleDelayMs, interTaskMs, timerLatenessMs, eventLoopP99Ms: loop.percentile(99) / 1e6, firedLateMs, firedToRunningMs };
}

type EngineVariant = 'sqlite' | 'postgres' | 'postgres-lease';
const VARIANT_FLAGS: Record<EngineVariant, string[]> = { sqlite: [], postgres: ['--store', 'postgres'], 'postgres-lease': ['--store', 'postgres', '--lease'] };

/** One variant's samples pooled over the rounds, with the load average around each round. */
interface EngineResult {
  samples: ScheduleDelaySamples;
  rounds: number;
  loads: number[];
}

/**
 * The engine engineer's bench (bench/schedule-delay.ts: the engine alone, no-op in-process
 * tasks) run as it is, on SQLite and on PostgreSQL (without and with the leader lease), in
 * `rounds` interleaved rounds of ticks/rounds ticks each (each round starts a fresh store; the
 * order rotates), so that the load of this shared machine falls on the three alike; the samples
 * of a variant are pooled.
 */
async function engineOnly(ctx: ScenarioContext, ticks: number, rounds: number): Promise<Record<EngineVariant, EngineResult | string>> {
  const variants = Object.keys(VARIANT_FLAGS) as EngineVariant[];
  const perRound = Math.max(5, Math.ceil(ticks / rounds));
  const pooled: Partial<Record<EngineVariant, EngineResult>> = {};
  const failed: Partial<Record<EngineVariant, string>> = {};
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(round + k) % variants.length]!;
      if (failed[v]) continue;
      const out = path.join(ctx.work, `schedule-delay-${v}.md`);
      const json = path.join(ctx.work, `schedule-delay-${v}.json`);
      fs.rmSync(json, { force: true });
      ctx.log(`engine alone on ${v}: round ${round + 1}/${rounds}, ${perRound} ticks…`);
      try {
        await promisify(execFile)(
          process.execPath,
          ['--import', 'tsx', path.join(__dirname, '..', 'schedule-delay.ts'), '--ticks', String(perRound), ...VARIANT_FLAGS[v], '--out', out, '--json', json],
          { cwd: path.join(__dirname, '..', '..'), timeout: (perRound + 90) * 1000, maxBuffer: 10e6 },
        );
        const s = JSON.parse(fs.readFileSync(json, 'utf8')) as ScheduleDelaySamples;
        const p = pooled[v];
        if (!p) pooled[v] = { samples: s, rounds: 1, loads: [s.loadavg.before, s.loadavg.after] };
        else {
          for (const key of ['scheduleDelayMs', 'interTaskMs', 'baselineMs', 'firedLateMs', 'firedToRunningMs'] as const) p.samples[key].push(...s[key]);
          p.samples.storeCalls.schedule.push(...s.storeCalls.schedule);
          p.samples.storeCalls.interTask.push(...s.storeCalls.interTask);
          p.samples.ticks += s.ticks;
          p.rounds += 1;
          p.loads.push(s.loadavg.before, s.loadavg.after);
        }
      } catch (err) {
        failed[v] =
          `bench/schedule-delay.ts ${VARIANT_FLAGS[v].join(' ')} failed: ${((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').slice(-3).join(' ')}`;
        ctx.log(failed[v]);
      }
    }
  }
  return Object.fromEntries(variants.map((v) => [v, failed[v] ?? pooled[v] ?? 'no samples'])) as Record<EngineVariant, EngineResult | string>;
}

/** "17 statements, 19 round trips, 7 commits, the thread blocked in the store 0.83 ms (p99 …)" (medians per window). */
function callsText(w: readonly WindowCalls[]): string {
  if (w.length === 0) return 'no store calls recorded';
  return `${median(w.map((c) => c.statements))} statements, ${median(w.map((c) => c.roundTrips))} round trips, ${median(w.map((c) => c.commits))} commits, the thread blocked in the store ${round(median(w.map((c) => c.ms)), 2)} ms (p99 ${round(
    percentile(
      w.map((c) => c.ms),
      99,
    ),
    2,
  )} ms)`;
}

const loadText = (r: EngineResult): string => `load average ${round(Math.min(...r.loads), 1)}–${round(Math.max(...r.loads), 1)} over its rounds`;

/** The engine-alone rows: SQLite (the figures scenario 1 always had), PostgreSQL with and without the lease, each against SQLite's of the same run. */
function engineRows(engine: Record<EngineVariant, EngineResult | string>): Row[] {
  const rows: Row[] = [];
  const sqlite = engine.sqlite;
  const flagsOf = (v: EngineVariant) => (VARIANT_FLAGS[v].length ? ` ${VARIANT_FLAGS[v].join(' ')}` : '');
  const cmd = (v: EngineVariant, r: EngineResult) => `\`npx tsx bench/schedule-delay.ts --ticks ${Math.round(r.samples.ticks / r.rounds)}${flagsOf(v)}\` × ${r.rounds} rounds`;
  const measures = [
    { key: 'scheduleDelayMs', calls: 'schedule', label: 'schedule delay' },
    { key: 'interTaskMs', calls: 'interTask', label: 'inter-task overhead' },
  ] as const;
  // (without SQLite's figures the PostgreSQL rows say so below)
  if (typeof sqlite !== 'string') {
    for (const m of measures) {
      const xs = sqlite.samples[m.key];
      rows.push({
        scenario: '1',
        metric: `engine alone, no-op tasks (bench/schedule-delay.ts): ${m.label}, p99`,
        unit: 'ms',
        supervisor: round(percentile(xs, 99), 2),
        peers: {},
        ratio: null,
        goal: '—',
        met: null,
        method:
          `the engine engineer's bench run as is: ${cmd('sqlite', sqlite)} interleaved with the PostgreSQL rounds below (createEngine in-process, file-backed SQLite in WAL mode, synchronous=NORMAL; chain of 3 no-op in-process operators, per-second cron, 2 warm-up runs per round); ` +
          `${spread(xs)}; its own timer baseline p99 ${round(percentile(sqlite.samples.baselineMs, 99), 2)} ms; ${loadText(sqlite)}; store calls per window: ${callsText(sqlite.samples.storeCalls[m.calls])}. Shows the engine's overhead without process spawns`,
        detail: { samples: xs.map((v) => round(v, 2)), storeCalls: sqlite.samples.storeCalls[m.calls] },
      });
    }
  }
  for (const v of ['postgres-lease', 'postgres'] as const) {
    const pg = engine[v];
    for (const m of measures) {
      const metric =
        v === 'postgres-lease'
          ? `${m.label} p99 on PostgreSQL (engine alone, no-op tasks, under the leader lease as every replica runs)`
          : `${m.label} p99 on PostgreSQL without the leader lease (engine alone, no-op tasks)`;
      if (typeof pg === 'string' || typeof sqlite === 'string') {
        rows.push({
          scenario: '1',
          metric,
          unit: 'ms',
          supervisor: null,
          peers: {},
          ratio: null,
          goal: "≤ 2× SQLite's",
          met: null,
          method: `not measured: ${typeof pg === 'string' ? pg : `the SQLite rounds failed (${typeof sqlite === 'string' ? sqlite : ''})`}`,
        });
        continue;
      }
      const xs = pg.samples[m.key];
      const ref = sqlite.samples[m.key];
      const p99 = round(percentile(xs, 99), 2);
      const refP99 = round(percentile(ref, 99), 2);
      const ratio = p99 / refP99;
      const how =
        v === 'postgres-lease'
          ? "wired as src/daemon.ts wires a replica of a shared store: the leader lease (src/wiring/leadership.ts, lease 10 s renewed every 2 s) elects this process, the engine is leader-gated and its scheduling starts with the lease (src/wiring/leader-roles.ts), and each run the schedule creates and each dispatch claim is written in one transaction fenced by the lease's epoch — the path every PostgreSQL deployment takes (a daemon on a PostgreSQL store always runs the lease; on SQLite the fence is the write itself, so the SQLite rows are that path there)"
          : 'the engine on the PostgreSQL store alone, no lease and no fence (the same wiring as the SQLite rows): the store without the leadership';
      rows.push({
        scenario: '1',
        metric,
        unit: 'ms',
        supervisor: p99,
        peers: {},
        ratio: null,
        goal: "≤ 2× SQLite's",
        met: p99 <= 2 * refP99,
        method:
          `${cmd(v, pg)}, interleaved with the SQLite rounds (createEngine in-process on the PostgreSQL facade: pg in a worker thread, each call a synchronous round trip over TLS to ${pg.samples.storeInfo}, a fresh database per round, dropped after; synchronous_commit on, the server's default); ${how}. ` +
          `p99 ${p99} ms against SQLite's ${refP99} ms in the same run: ${round(ratio, 1)}× (goal ≤ 2×); p50 ${round(median(xs), 2)} ms against ${round(median(ref), 2)} ms (${round(median(xs) / median(ref), 1)}×); max ${round(Math.max(...xs), 2)} ms against ${round(Math.max(...ref), 2)} ms; ${xs.length} samples (SQLite ${ref.length}); timer baseline p99 ${round(percentile(pg.samples.baselineMs, 99), 2)} ms; ${loadText(pg)}. ` +
          `Store calls per window (medians): ${callsText(pg.samples.storeCalls[m.calls])} — on SQLite the same window makes ${callsText(sqlite.samples.storeCalls[m.calls])}`,
        detail: { samples: xs.map((x) => round(x, 2)), sqliteSamples: ref.map((x) => round(x, 2)), storeCalls: pg.samples.storeCalls[m.calls], ratioP99: round(ratio, 2) },
      });
    }
  }
  return rows;
}

/** Two rounds' samples as one (`into` undefined: the first round's). */
function pool(into: ChainSamples | undefined, more: ChainSamples): ChainSamples {
  if (!into) return more;
  const cat = (a: number[] | undefined, b: number[] | undefined): number[] => [...(a ?? []), ...(b ?? [])];
  return {
    ticks: into.ticks + more.ticks,
    scheduleDelayMs: cat(into.scheduleDelayMs, more.scheduleDelayMs),
    interTaskMs: cat(into.interTaskMs, more.interTaskMs),
    timerLatenessMs: cat(into.timerLatenessMs, more.timerLatenessMs),
    eventLoopP99Ms: Math.max(into.eventLoopP99Ms ?? 0, more.eventLoopP99Ms ?? 0),
    firedLateMs: cat(into.firedLateMs, more.firedLateMs),
    firedToRunningMs: cat(into.firedToRunningMs, more.firedToRunningMs),
  };
}

/** "p50 2.1 ms, p99 9.6 ms, max 12.3 ms over 120 samples". */
function spread(xs: readonly number[]): string {
  return `p50 ${round(median(xs), 2)} ms, p99 ${round(percentile(xs, 99), 2)} ms, max ${round(Math.max(...xs), 2)} ms over ${xs.length} samples`;
}

const loadRange = (loads: readonly number[]): string => (loads.length ? `${round(Math.min(...loads), 1)}–${round(Math.max(...loads), 1)}` : 'not taken');

export const scenario: Scenario = {
  id: '1',
  title: 'Schedule → task start',
  goal: 'schedule delay p99 ≤ 20 ms, inter-task overhead p99 ≤ 5 ms, each ≥ 50× better than Airflow',
  limits:
    "The supervisor arms one croner timer per pipeline and starts the first task as soon as the run is recorded in SQLite; the next task starts in the same tick as its upstream's exit. The decomposition rows split the schedule delay: timer lateness (cron boundary → the engine's trigger fired; the same as a bare setTimeout in the control row) and the engine (fired → first task running: run insert and claim, task-instance rows, attempt row — p50 ≈ 2 ms). On this shared VM the tail follows the machine: the first run today, at load ≈ 13 (another session's test suites and Spark JVMs), measured p99 33 ms / 9 ms with a control timer p99 of 20 ms (see \"Earlier runs\"); at load ≈ 2 the goals are met. " +
    'CPU profile of 30 ticks (node --cpu-prof): apart from idle, the largest items are ChildProcess.spawn (≈ 7 ms per spawn, synchronous on the event loop: fork of a 100 MB process; it happens after the task is recorded running, so it delays whatever else is due at that moment, not this measurement) and better-sqlite3 `prepare` — src/store/runs.ts prepares the UPDATE statements of updateRun/updateTask/updateAttempt on every call (lines ~357, 400, 408); caching them per column set would take that off each state change. ' +
    "Airflow's figures are structural: the scheduler loop creates the run, queues the task, the LocalExecutor hands it to a worker which starts a task process that calls the API server before the task counts as running; each downstream task waits for a scheduler loop to see its upstream finished. " +
    "PostgreSQL (the rows against SQLite's): on SQLite a call costs ≈ 0.05 ms in-process; on PostgreSQL each request is a round trip from the main thread to the store's worker thread, to the server backend and back (≈ 0.35 ms back to back, ≈ 1–1.3 ms for the first after an idle second on this VM: three sleeping threads to wake), and each commit waits for the server's WAL fdatasync (synchronous_commit on; SQLite in WAL mode with synchronous=NORMAL does not sync at commit, so the two are not equally durable). " +
    'Until 2026-12-01 the path was 23 statements in 29 sequential round trips and 7 commits under the lease (BEGIN, SET LOCAL, a clock read, the lease-row UPDATE, the write, COMMIT twice — run insert, then dispatch claim —, a SAVEPOINT pair, three task-instance rows, the first try and its attempt row, each a commit): p99 84.3 ms against 9.96 ms (8.5×); a profile showed 94 % of the time was the main thread waiting in Atomics.wait. ' +
    'Until 2026-12-01 18:00 it was 2 round trips and 1 commit (request 1: BEGIN, SET LOCAL, fence, run INSERT; request 2: task rows, attempt row, COMMIT): daemon p99 10.1–19.6 ms against 9.6–9.8 ms over 60 samples (p99 = the largest sample), engine alone p99 21.4 ms against 3.95 ms (5.4×), p50 7.1 against 2.19 ms. ' +
    "Now (src/store/postgres/database.ts, src/store/runs.ts scheduleFirst, src/engine/runner.ts planRun, src/engine/submit.ts): the facade holds back what needs no answer inside a transaction (BEGIN, SET, SAVEPOINT/RELEASE, writes run with runLater) and sends it with the next call, which the worker pipelines (pg pipeline mode: one round trip to the server); the lease fence is a checked write that refuses in the server (one statement that fails unless the lease-row UPDATE, with the server's clock, touched our row: the transaction is aborted there, so nothing sent after it — the COMMIT included, which then answers ROLLBACK — commits, and the call fails with SUP_ERR_NOT_LEADER); the engine picks the run id client-side and plans the run's task-instance rows and first try before the run exists, and one statement creates the run claimed (when its pipeline has a free slot and nothing queued; overlap room and pause checked in it) with those rows as data-modifying CTEs that insert only beside a run this statement inserted running, plus the look-up of why nothing was inserted, from the same snapshot; held back with getLater, it goes with the COMMIT and its answer is read after the commit. Cron boundary → first task running is 1 round trip and 1 commit under the lease (BEGIN, SET LOCAL, fence, the statement, COMMIT in one request); SQLite runs the same statements as before, in-process. The worker sends a statement with parameters it has seen before as a named (server-side prepared) statement: parsed and planned once per connection — planning the schedule's statement was ≈ 2 ms of its ≈ 4–5 ms (measured in-process at load ≈ 0.5, 20 fenced schedule transactions 300 ms apart: p50 5.5 ms unnamed, 3.5–3.7 ms prepared; the same transaction without the fence 5.4 → 2.6–3.1 ms; a BEGIN, one-row UPDATE, COMMIT 1.8 ms; SELECT 1 after 300 ms idle 1.0 ms, right after another 0.4 ms: the wake-up of the worker thread and the server backend). A task end → next task running is 1 round trip, 1 commit (the try's state and attempt row together; the end of a try — log, attempt, state — is one more); a try's pid is one more after its spawn (task and attempt row in one transaction, was two autocommits). " +
    'Nothing is less durable: every commit still waits for the WAL flush, a try starts only after the commit of its rows, and a crash between the commit and the process start leaves a running try without a process that crash recovery fails and retries per policy, as before. What is left is the wake-up cost of the one request on this VM and the fsync, against an in-process SQLite path of ≈ 2 ms; the tail follows the machine (2 shared cores): a request that takes ≈ 1–3 ms at load ≈ 1 takes 5–70 ms at load ≈ 7, and the engine-alone rounds on PostgreSQL have single requests of 60–720 ms (the main thread blocked in the one request; the same in the without-lease rounds; clustered in some rounds, at load ≤ 1.5) that the interleaved SQLite rounds do not have — the stack’s PostgreSQL server is shared with the test suites of the other sessions, which create and drop a database per suite (a DROP DATABASE checkpoints, a CREATE DATABASE writes the template into the WAL that a commit then waits behind): the likely cause, not proven here. With ≥ 100 samples such a request still lands in the p99 when a round has two. ' +
    'The quiet rerun of 2026-12-01 21:01 (load 0.5–1.5, nothing else running; the recorded run): SQLite p99 3.38 ms (daemon) and 3.94 ms (engine alone), PostgreSQL 10.57 and 9.98 ms under the lease: 3.1× and 2.5×, missed; the runs of 18:12–20:06 that met 2× (0.9–1.7× for the daemon) had SQLite samples of 9.6 ms in them, so the ratio there was the machine’s. Where the PostgreSQL time goes, measured then: the server’s own time per scheduled run (log_min_duration_statement = 0 over 15 ticks) is ≈ 1.2 ms — BEGIN 0.02, SET LOCAL 0.04, the fence 0.21, the schedule statement 0.59 (bind 0.29, execute 0.30), COMMIT 0.35 — with fdatasync at 0.1 ms on this disk (pg_test_fsync); the rest of the ≈ 2.7 ms over SQLite’s p50 is the one round trip after an idle second, 1.0–1.3 ms against 0.33 ms back to back (SELECT 1 through the facade after gaps of 0, 2, 20, 200 and 1,000 ms: p50 0.33, 0.41, 1.00, 1.11, 1.33 ms). The server logged two COMMITs of 62 and 68 ms in those 10 minutes (stalls of the shared disk) and no other statement over 25 ms. Reaching 2× at p99 here would need that round trip off the path, e.g. a connection woken just before each tick; not done: it would serve this benchmark, not a deployment, where a few milliseconds on a cron tick change nothing. ' +
    'Samples: the daemon on each store in interleaved rounds (default 120 ticks each in 4 rounds), the engine alone 100 per variant in 4 rounds: with ≥ 100 samples the p99 (nearest rank) is the second-largest sample, not the largest, and the rows give p50, p99 and max.',
  async run(ctx: ScenarioContext): Promise<Row[]> {
    // samples per store: ≥ 100 so that the p99 (nearest rank) is not the largest sample
    const ticks = Number(ctx.args.ticks ?? 120);
    const daemonRounds = Math.max(1, Number(ctx.args['daemon-rounds'] ?? 4));
    const supSeconds = Number(ctx.args['sup-seconds'] ?? 1);
    const afSeconds = Number(ctx.args['airflow-seconds'] ?? 10);
    const afTicks = Number(ctx.args['airflow-ticks'] ?? 60);
    const perRound = Math.max(5, Math.ceil(ticks / daemonRounds));
    // the daemon on SQLite and on PostgreSQL (a fresh database per round, dropped after: leader
    // lease, fenced writes, every component's store calls) in interleaved rounds, the order
    // alternating, so that the load of this shared machine falls on both alike
    let sup: ChainSamples | undefined;
    let supPg: ChainSamples | string | undefined;
    const loadSqlite: number[] = [];
    const loadPg: number[] = [];
    for (let round = 0; round < daemonRounds; round++) {
      for (const store of round % 2 === 0 ? (['sqlite', 'postgres'] as const) : (['postgres', 'sqlite'] as const)) {
        if (store === 'sqlite') {
          ctx.log(`supervisor: round ${round + 1}/${daemonRounds}, ${perRound} ticks every ${supSeconds} s…`);
          loadSqlite.push(os.loadavg()[0]!);
          sup = pool(sup, await measureSupervisorChain(ctx, perRound, supSeconds));
          loadSqlite.push(os.loadavg()[0]!);
          continue;
        }
        if (typeof supPg === 'string') continue;
        loadPg.push(os.loadavg()[0]!);
        try {
          ctx.log(`supervisor on PostgreSQL: round ${round + 1}/${daemonRounds}, ${perRound} ticks every ${supSeconds} s…`);
          const got = await withFreshPostgresStore('sup_bench_chain', ctx.log, async (settings) => {
            const section = postgresStoreSection(settings, path.join(ctx.work, 'scenario-1'));
            try {
              return await measureSupervisorChain(ctx, perRound, supSeconds, section.yaml);
            } finally {
              section.remove();
            }
          });
          supPg = pool(supPg, got);
        } catch (err) {
          supPg = `failed: ${(err as Error).message.split('\n')[0]}`;
          ctx.log(`supervisor on PostgreSQL: ${supPg}`);
        }
        loadPg.push(os.loadavg()[0]!);
      }
    }
    if (!sup) throw new Error('no supervisor samples');
    if (supPg === undefined) supPg = 'no samples';
    ctx.log(`supervisor: schedule delay ${JSON.stringify(summary(sup.scheduleDelayMs))}, inter-task ${JSON.stringify(summary(sup.interTaskMs))}`);
    if (typeof supPg !== 'string')
      ctx.log(`supervisor on PostgreSQL: schedule delay ${JSON.stringify(summary(supPg.scheduleDelayMs))}, inter-task ${JSON.stringify(summary(supPg.interTaskMs))}`);
    let af: ChainSamples | string;
    if (ctx.skipPeers) af = 'skipped (--skip-peers)';
    else {
      try {
        ctx.log(`airflow: ${afTicks} ticks every ${afSeconds} s…`);
        af = await measureAirflowChain(ctx, afTicks, afSeconds);
        ctx.log(`airflow: schedule delay ${JSON.stringify(summary(af.scheduleDelayMs))}, inter-task ${JSON.stringify(summary(af.interTaskMs))}`);
      } catch (err) {
        af = `failed: ${(err as Error).message}`;
        ctx.log(`airflow: ${af}`);
      }
    }
    const rows: Row[] = [];
    const how = (what: string, pick: (s: ChainSamples) => number[]) =>
      `Supervisor: createDaemon in-process with pipeline bench_chain (t1 → t2 → t3, operator command ["true"]), cron every ${supSeconds} s (6-field), timestamps taken when the engine emits each run event (performance.now() on the wall clock); ` +
      `Airflow 3 standalone (LocalExecutor, SQLite, default settings) with DAG bench_chain (three BashOperator "true"), schedule timedelta(seconds=${afSeconds}), max_active_runs=1, catchup=False; timestamps from the metadata DB (task_instance.start_date/end_date, dag_run.run_after). ${what}. Supervisor ${sup.scheduleDelayMs.length} ticks in ${daemonRounds} rounds interleaved with the PostgreSQL daemon's (first tick after each start dropped), Airflow ${typeof af === 'string' ? afTicks : af.scheduleDelayMs.length} ticks; percentiles over all samples (nearest rank); ${spread(pick(sup))}`;
    for (const [metric, pick, goalMs] of [
      ['schedule delay (cron boundary → first task running)', (s: ChainSamples) => s.scheduleDelayMs, 20],
      ['inter-task overhead (task ends → next task running)', (s: ChainSamples) => s.interTaskMs, 5],
    ] as const) {
      for (const p of [50, 99] as const) {
        const supV = round(percentile(pick(sup), p), 2);
        const peers: Record<string, number | string> = { 'Airflow 3.3.2': typeof af === 'string' ? af : round(percentile(pick(af), p), 1) };
        const ratio = betterRatio(supV, peers);
        const isGoal = p === 99;
        rows.push({
          scenario: '1',
          metric: `${metric}, p${p}`,
          unit: 'ms',
          supervisor: supV,
          peers,
          ratio,
          goal: isGoal ? `≤ ${goalMs} ms and ≥ 50× Airflow` : '—',
          ...(isGoal ? { ratioGoal: 50 } : {}),
          met: isGoal ? supV <= goalMs && (ratio === null ? null : ratio >= 50) !== false : null,
          method: how(metric, pick),
          detail: { supervisor: pick(sup).map((v) => round(v, 2)), airflow: typeof af === 'string' ? af : pick(af).map((v) => round(v, 1)) },
        });
      }
    }
    for (const [label, pick] of [
      ['schedule delay', (c: ChainSamples) => c.scheduleDelayMs],
      ['inter-task overhead', (c: ChainSamples) => c.interTaskMs],
    ] as const) {
      const metric = `daemon, subprocess tasks: ${label} p99 on PostgreSQL (leader lease)`;
      if (typeof supPg === 'string') {
        rows.push({ scenario: '1', metric, unit: 'ms', supervisor: null, peers: {}, ratio: null, goal: "≤ 2× SQLite's", met: null, method: `not measured: ${supPg}` });
        continue;
      }
      const xs = pick(supPg);
      const ref = pick(sup);
      const p99 = round(percentile(xs, 99), 2);
      const refP99 = round(percentile(ref, 99), 2);
      const decomposition =
        label === 'schedule delay'
          ? `; decomposition: cron boundary → trigger fired p99 ${round(percentile(supPg.firedLateMs ?? [], 99), 2)} ms, trigger fired → first task running p50 ${round(percentile(supPg.firedToRunningMs ?? [], 50), 2)} ms, p99 ${round(percentile(supPg.firedToRunningMs ?? [], 99), 2)} ms (SQLite: ${round(percentile(sup.firedToRunningMs ?? [], 50), 2)} / ${round(percentile(sup.firedToRunningMs ?? [], 99), 2)} ms)`
          : '';
      rows.push({
        scenario: '1',
        metric,
        unit: 'ms',
        supervisor: p99,
        peers: {},
        ratio: null,
        goal: "≤ 2× SQLite's",
        met: p99 <= 2 * refP99,
        method:
          `the supervisor rows' measurement (createDaemon in-process, bench_chain of three "true" subprocesses, cron every ${supSeconds} s, first tick of each start dropped) with the config's store section a PostgreSQL one (store.url on a fresh database of the stack's server per round, password_file, ssl.ca_file; dropped after), in ${daemonRounds} rounds of ${perRound} ticks interleaved with the SQLite daemon's (the order alternating): the whole daemon as a replica runs it — leader lease, fenced run creation and claims, and the other components' store calls (outbox, schedule monitor, alerts) on the same thread. ` +
          `p99 ${p99} ms against the SQLite daemon's ${refP99} ms in the same run: ${round(p99 / refP99, 1)}× (goal ≤ 2×); p50 ${round(median(xs), 2)} ms against ${round(median(ref), 2)} ms (${round(median(xs) / median(ref), 1)}×); max ${round(Math.max(...xs), 2)} ms against ${round(Math.max(...ref), 2)} ms; ${xs.length} samples (SQLite ${ref.length})${decomposition}; load average ${loadRange(loadPg)} over its rounds (SQLite daemon's: ${loadRange(loadSqlite)})`,
        detail: { samples: xs.map((v) => round(v, 2)), sqliteSamples: ref.map((v) => round(v, 2)) },
      });
    }
    const rounds = Number(ctx.args['engine-rounds'] ?? 4);
    const engine = await engineOnly(ctx, Number(ctx.args['engine-ticks'] ?? 100), rounds);
    rows.push(...engineRows(engine));
    const control = sup.timerLatenessMs ?? [];
    rows.push({
      scenario: '1',
      metric: 'control: lateness of a bare setTimeout in the same process, p99',
      unit: 'ms',
      supervisor: round(percentile(control, 99), 2),
      peers: {},
      ratio: null,
      goal: '—',
      met: null,
      method: `a plain setTimeout aimed at every x.500 s boundary during the supervisor's run (no supervisor code involved): what the machine alone costs; event-loop delay p99 over the run ${round(sup.eventLoopP99Ms ?? NaN, 2)} ms (perf_hooks.monitorEventLoopDelay); samples ${control.length}, p50 ${round(percentile(control, 50), 2)} ms`,
      detail: { control: control.map((v) => round(v, 2)), eventLoopP99Ms: sup.eventLoopP99Ms },
    });
    for (const [metric, values, what] of [
      [
        'decomposition: cron boundary → trigger fired (timer), p99',
        sup.firedLateMs ?? [],
        "the run event's firedAt (Date.now() when the engine's cron stream fired) minus the logical date",
      ],
      [
        'decomposition: trigger fired → first task running (engine), p99',
        sup.firedToRunningMs ?? [],
        'first task running (observed) minus firedAt: recording the run in SQLite, resolving the DAG, spawning bookkeeping',
      ],
    ] as const) {
      rows.push({
        scenario: '1',
        metric,
        unit: 'ms',
        supervisor: round(percentile(values, 99), 2),
        peers: {},
        ratio: null,
        goal: '—',
        met: null,
        method: `${what}; same ticks as above; p50 ${round(percentile(values, 50), 2)} ms (firedAt has 1 ms resolution)`,
        detail: { samples: values.map((v) => round(v, 2)) },
      });
    }
    return rows;
  },
};
