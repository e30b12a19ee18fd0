/**
 * Scenario 1 — schedule → task start. The same DAG shape in both systems: three chained tasks
 * each running `true` in a subprocess. Schedule delay = cron boundary (logical date / run_after)
 * → first task running; inter-task overhead = a task ends → the next one running.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { RunEvent } from '../../src/protocol';
import { measureAirflowChain } from '../peers/airflow';
import { percentile, round, sleep, summary } from '../lib/stats';
import { chainConfig, startDaemon, writeConfig } from '../lib/supervisor';
import { betterRatio, type Row, type Scenario, type ScenarioContext } from '../lib/types';

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

export async function measureSupervisorChain(ctx: ScenarioContext, ticks: number, scheduleSeconds: number): Promise<ChainSamples> {
  const dir = path.join(ctx.work, 'scenario-1');
  const cron = scheduleSeconds === 1 ? '* * * * * *' : `*/${scheduleSeconds} * * * * *`;
  const daemon = await startDaemon(writeConfig(dir, 'chain', chainConfig(cron)));
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

/**
 * The engine engineer's bench (bench/schedule-delay.ts: the engine alone, no-op in-process
 * tasks) run as it is, its table parsed: the engine's own overhead beside the subprocess chain.
 */
async function engineOnly(ctx: ScenarioContext, ticks: number): Promise<Record<string, { p50: number; p99: number; n: number }> | string> {
  const out = path.join(ctx.work, 'schedule-delay.md');
  try {
    await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'schedule-delay.ts'), '--ticks', String(ticks), '--out', out], {
      cwd: path.join(__dirname, '..', '..'),
      timeout: (ticks + 60) * 1000,
      maxBuffer: 10e6,
    });
    const rows: Record<string, { p50: number; p99: number; n: number }> = {};
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      const m = /^\| (schedule delay|inter-task overhead|baseline)[^|]*\| (\d+) \| ([\d.]+) \| ([\d.]+) \|/.exec(line);
      if (m) rows[m[1]!] = { n: Number(m[2]), p50: Number(m[3]), p99: Number(m[4]) };
    }
    return Object.keys(rows).length ? rows : 'bench/schedule-delay.ts printed no table';
  } catch (err) {
    return `bench/schedule-delay.ts failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

export const scenario: Scenario = {
  id: '1',
  title: 'Schedule → task start',
  goal: 'schedule delay p99 ≤ 20 ms, inter-task overhead p99 ≤ 5 ms, each ≥ 50× better than Airflow',
  limits:
    "The supervisor arms one croner timer per pipeline and starts the first task as soon as the run is recorded in SQLite; the next task starts in the same tick as its upstream's exit. The decomposition rows split the schedule delay: timer lateness (cron boundary → the engine's trigger fired; the same as a bare setTimeout in the control row) and the engine (fired → first task running: run insert and claim, task-instance rows, attempt row — p50 ≈ 2 ms). On this shared VM the tail follows the machine: the first run today, at load ≈ 13 (another session's test suites and Spark JVMs), measured p99 33 ms / 9 ms with a control timer p99 of 20 ms (see \"Earlier runs\"); at load ≈ 2 the goals are met. " +
    'CPU profile of 30 ticks (node --cpu-prof): apart from idle, the largest items are ChildProcess.spawn (≈ 7 ms per spawn, synchronous on the event loop: fork of a 100 MB process; it happens after the task is recorded running, so it delays whatever else is due at that moment, not this measurement) and better-sqlite3 `prepare` — src/store/runs.ts prepares the UPDATE statements of updateRun/updateTask/updateAttempt on every call (lines ~357, 400, 408); caching them per column set would take that off each state change. ' +
    "Airflow's figures are structural: the scheduler loop creates the run, queues the task, the LocalExecutor hands it to a worker which starts a task process that calls the API server before the task counts as running; each downstream task waits for a scheduler loop to see its upstream finished.",
  async run(ctx: ScenarioContext): Promise<Row[]> {
    const ticks = Number(ctx.args.ticks ?? 60);
    const supSeconds = Number(ctx.args['sup-seconds'] ?? 1);
    const afSeconds = Number(ctx.args['airflow-seconds'] ?? 10);
    ctx.log(`supervisor: ${ticks} ticks every ${supSeconds} s…`);
    const sup = await measureSupervisorChain(ctx, ticks, supSeconds);
    ctx.log(`supervisor: schedule delay ${JSON.stringify(summary(sup.scheduleDelayMs))}, inter-task ${JSON.stringify(summary(sup.interTaskMs))}`);
    let af: ChainSamples | string;
    if (ctx.skipPeers) af = 'skipped (--skip-peers)';
    else {
      try {
        ctx.log(`airflow: ${ticks} ticks every ${afSeconds} s…`);
        af = await measureAirflowChain(ctx, ticks, afSeconds);
        ctx.log(`airflow: schedule delay ${JSON.stringify(summary(af.scheduleDelayMs))}, inter-task ${JSON.stringify(summary(af.interTaskMs))}`);
      } catch (err) {
        af = `failed: ${(err as Error).message}`;
        ctx.log(`airflow: ${af}`);
      }
    }
    const rows: Row[] = [];
    const how = (what: string) =>
      `Supervisor: createDaemon in-process with pipeline bench_chain (t1 → t2 → t3, operator command ["true"]), cron every ${supSeconds} s (6-field), timestamps taken when the engine emits each run event (performance.now() on the wall clock); ` +
      `Airflow 3 standalone (LocalExecutor, SQLite, default settings) with DAG bench_chain (three BashOperator "true"), schedule timedelta(seconds=${afSeconds}), max_active_runs=1, catchup=False; timestamps from the metadata DB (task_instance.start_date/end_date, dag_run.run_after). ${what}. ${ticks} ticks each (first tick after start dropped); percentiles over all samples (nearest rank)`;
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
          method: how(metric),
          detail: { supervisor: pick(sup).map((v) => round(v, 2)), airflow: typeof af === 'string' ? af : pick(af).map((v) => round(v, 1)) },
        });
      }
    }
    const engine = await engineOnly(ctx, ticks);
    if (typeof engine === 'string') ctx.log(engine);
    else {
      for (const [key, label] of [
        ['schedule delay', 'engine alone, no-op tasks (bench/schedule-delay.ts): schedule delay, p99'],
        ['inter-task overhead', 'engine alone, no-op tasks (bench/schedule-delay.ts): inter-task overhead, p99'],
      ] as const) {
        const r = engine[key];
        if (!r) continue;
        rows.push({
          scenario: '1',
          metric: label,
          unit: 'ms',
          supervisor: r.p99,
          peers: {},
          ratio: null,
          goal: '—',
          met: null,
          method: `the engine engineer's bench run as is: \`npx tsx bench/schedule-delay.ts --ticks ${ticks}\` (createEngine in-process, file-backed SQLite, chain of 3 no-op in-process operators, per-second cron, 2 warm-up runs); ${r.n} samples, p50 ${r.p50} ms; its own timer baseline p99 ${engine.baseline?.p99 ?? '—'} ms. Shows the engine's overhead without process spawns`,
        });
      }
    }
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
