/**
 * Schedule delay and inter-task overhead of the pipelines engine.
 *
 *   npx tsx bench/schedule-delay.ts [--ticks 60] [--tasks 3] [--out bench/results/schedule-delay.md]
 *
 * Runs the real engine in-process (file-backed SQLite store in WAL mode, real system clock,
 * croner schedule `* * * * * *`) with a chain of no-op tasks, for at least `--ticks` schedule
 * ticks, and measures with a high-resolution clock:
 *  - schedule delay: cron boundary (the run's logical date) → first task running;
 *  - inter-task overhead: a task ends → the next task of the chain running.
 * Goals: schedule delay p99 ≤ 20 ms, inter-task overhead p99 ≤ 5 ms.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { configSchema } from '../src/config/schema';
import { createEngine } from '../src/engine/engine';
import type { Operator } from '../src/engine/operator';
import { silentLogger } from '../src/shared/logger';
import { openDatabase } from '../src/store/database';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const nowHr = (): number => performance.timeOrigin + performance.now();

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function stats(values: readonly number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

async function main(): Promise<void> {
  const ticks = Number(arg('ticks', '60'));
  const taskCount = Number(arg('tasks', '3'));
  const out = arg('out', path.join(__dirname, 'results', 'schedule-delay.md'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-bench-'));
  const db = openDatabase({ file: path.join(dir, 'state.db') });
  const tasks = Array.from({ length: taskCount }, (_, i) => ({ id: `t${i + 1}`, operator: 'command', ...(i > 0 ? { upstream: [`t${i}`] } : {}) }));
  const config = configSchema.parse({ pipelines: { bench: { schedule: '* * * * * *', timezone: 'UTC', overlap: 'skip', tasks } } });
  const noop: Operator = async () => ({ result: null });
  const engine = createEngine({ config: { file: path.join(dir, 'supervisor.yaml'), config, variables: {} }, db, logger: silentLogger, operators: { command: noop } });

  const scheduleDelays: number[] = [];
  const interTask: number[] = [];
  const firstSeen = new Set<string>();
  const endedAt = new Map<string, number>(); // `${runId}|${taskId}` → hr time
  let finishedRuns = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const warmup = 2; // the first ticks include JIT warm-up and store creation

  engine.runEvents$.subscribe((e) => {
    const t = nowHr();
    if (e.type === 'run') {
      if (e.state === 'success' || e.state === 'failed') {
        finishedRuns += 1;
        if (finishedRuns >= ticks + warmup) done();
      }
      return;
    }
    const measured = finishedRuns >= warmup;
    if (e.state === 'running') {
      if (!firstSeen.has(e.runId)) {
        firstSeen.add(e.runId);
        if (measured) scheduleDelays.push(t - e.logicalDate);
      }
      const idx = Number(e.taskId.slice(1));
      const prev = endedAt.get(`${e.runId}|t${idx - 1}`);
      if (prev !== undefined && measured) interTask.push(t - prev);
    } else if (e.state === 'success') {
      endedAt.set(`${e.runId}|${e.taskId}`, t);
    }
  });

  // Baseline: a bare setTimeout aimed at every half-second boundary in the same process — the
  // host's own timer lateness, which no scheduler built on Node timers can beat.
  const baseline: number[] = [];
  let baselineTimer: NodeJS.Timeout | undefined;
  const armBaseline = (): void => {
    const target = Math.ceil((Date.now() + 1) / 1000) * 1000 + 500;
    baselineTimer = setTimeout(() => {
      baseline.push(nowHr() - target);
      armBaseline();
    }, target - Date.now());
  };
  armBaseline();
  const loadBefore = os.loadavg()[0]!;
  const started = Date.now();
  await engine.start();
  process.stderr.write(`running ${ticks + warmup} ticks of a per-second schedule with ${taskCount} chained no-op tasks…\n`);
  await finished;
  clearTimeout(baselineTimer);
  await engine.close();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const sd = stats(scheduleDelays);
  const it = stats(interTask);
  const bl = stats(baseline.slice(warmup));
  const fmt = (n: number) => n.toFixed(2);
  const verdict = (v: number, goal: number) => (v <= goal ? 'met' : 'MISSED');
  const md = `# Pipelines engine: schedule delay and inter-task overhead

Command: \`npx tsx bench/schedule-delay.ts --ticks ${ticks} --tasks ${taskCount}\`
(${new Date().toISOString()}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round((Date.now() - started) / 1000)} s wall time, load average ${loadBefore.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)})

Setup: the real engine in-process — croner schedule \`* * * * * *\` (UTC), real system clock, file-backed
SQLite store (WAL), one pipeline of ${taskCount} chained no-op tasks, overlap \`skip\`. Every state change is
written to the store before the next step, as in production. The first ${warmup} runs are warm-up and not counted.
Times are taken with \`performance.now()\` when the engine publishes the run event.

| measure | samples | p50 (ms) | p99 (ms) | max (ms) | mean (ms) | goal (p99) | |
|---|---:|---:|---:|---:|---:|---:|---|
| schedule delay (cron boundary → first task running) | ${sd.n} | ${fmt(sd.p50)} | ${fmt(sd.p99)} | ${fmt(sd.max)} | ${fmt(sd.mean)} | ≤ 20 ms | ${verdict(sd.p99, 20)} |
| inter-task overhead (task ends → next task running) | ${it.n} | ${fmt(it.p50)} | ${fmt(it.p99)} | ${fmt(it.max)} | ${fmt(it.mean)} | ≤ 5 ms | ${verdict(it.p99, 5)} |
| baseline: bare setTimeout lateness in the same process | ${bl.n} | ${fmt(bl.p50)} | ${fmt(bl.p99)} | ${fmt(bl.max)} | ${fmt(bl.mean)} | – | |

Notes: the schedule delay includes the timer's own lateness (Node timers fire at or after their
deadline, ~1 ms), the run insert and claim in SQLite, and the task-instance rows of the run. The machine
is shared with the local stack (Kafka, Spark, …) while this runs, so the tail reflects a busy host.
`;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, md);
  process.stdout.write(md);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
