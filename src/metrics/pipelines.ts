/**
 * Pipeline metrics. The engine reports each run event and skipped tick to the port below
 * (counters for runs and task runs by state and trigger kind, duration histograms, schedule
 * delay (cron boundary → first task running), skipped ticks); the point-in-time gauges (last
 * success, active runs) read the run store in collect().
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunEvent, TriggerKind } from '../protocol';
import type { RunStore } from '../store/runs';

/** What the engine reports as it happens. */
export interface PipelineMetrics {
  observe(event: RunEvent): void;
  skippedTick(pipeline: string, reason: 'overlap' | 'clock_jump' | 'gate' | 'paused'): void;
  /** An operator's operation (pause, cancel, clear, mark…); `count` = tasks cleared for a clear. */
  operation(action: string, pipeline: string, count?: number): void;
}

export interface PipelineMetricsParams {
  /** Where the metrics are registered (a private registry when absent: the engine runs without a daemon in tests and the CLI). */
  registry?: Registry | undefined;
  /** The run store the gauges read at scrape time. */
  store: Pick<RunStore, 'lastSuccess' | 'countByPipeline'>;
  /** The configured pipeline ids. */
  pipelines: () => readonly string[];
  /** Whether a pipeline is paused (read at scrape time). */
  isPaused?: (pipeline: string) => boolean;
}

const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const DELAY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60];

export function registerPipelineMetrics(params: PipelineMetricsParams): PipelineMetrics {
  const registers = [params.registry ?? new Registry()];
  const runs = new Counter({
    name: 'supervisor_pipeline_runs_total',
    help: 'Pipeline runs that reached a final state, by state and trigger kind',
    labelNames: ['pipeline', 'state', 'trigger'],
    registers,
  });
  const tasks = new Counter({
    name: 'supervisor_pipeline_task_runs_total',
    help: 'Task attempts that ended, by state and trigger kind',
    labelNames: ['pipeline', 'task', 'state', 'trigger'],
    registers,
  });
  const runDuration = new Histogram({
    name: 'supervisor_pipeline_run_duration_seconds',
    help: 'Run duration from start to final state',
    labelNames: ['pipeline', 'state'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const taskDuration = new Histogram({
    name: 'supervisor_pipeline_task_duration_seconds',
    help: 'Task attempt duration',
    labelNames: ['pipeline', 'task', 'state'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const scheduleDelay = new Histogram({
    name: 'supervisor_pipeline_schedule_delay_seconds',
    help: 'Cron boundary (logical date) to the first task running',
    labelNames: ['pipeline'],
    buckets: DELAY_BUCKETS,
    registers,
  });
  const skipped = new Counter({
    name: 'supervisor_pipeline_skipped_ticks_total',
    help: 'Schedule ticks not run: overlap policy, clock jumps, gates, paused pipeline',
    labelNames: ['pipeline', 'reason'],
    registers,
  });
  const operations = new Counter({
    name: 'supervisor_pipeline_operations_total',
    help: 'Operations by operators: pause, unpause, cancel, clear, mark_run, mark_task, trigger, backfill',
    labelNames: ['pipeline', 'action'],
    registers,
  });
  const cleared = new Counter({
    name: 'supervisor_pipeline_cleared_tasks_total',
    help: 'Task instances cleared (sent back to queued to run again)',
    labelNames: ['pipeline'],
    registers,
  });
  if (params.isPaused) {
    const isPaused = params.isPaused;
    new Gauge({
      name: 'supervisor_pipeline_paused',
      help: '1 while the pipeline is paused (no cron or event trigger fires)',
      labelNames: ['pipeline'],
      registers,
      collect() {
        // a store that does not answer (PostgreSQL down) keeps the last values: the scrape still answers
        const values = readOrKeep(() => params.pipelines().map((p) => [p, isPaused(p) ? 1 : 0] as const));
        if (!values) return;
        this.reset();
        for (const [pipeline, v] of values) this.set({ pipeline }, v);
      },
    });
  }
  const { store } = params;
  new Gauge({
    name: 'supervisor_pipeline_last_success_timestamp_seconds',
    help: 'End time of the last successful run (epoch seconds)',
    labelNames: ['pipeline'],
    registers,
    collect() {
      const values = readOrKeep(() => params.pipelines().map((p) => [p, store.lastSuccess(p)?.endedAt] as const));
      if (!values) return;
      this.reset();
      for (const [pipeline, endedAt] of values) if (endedAt) this.set({ pipeline }, endedAt / 1000);
    },
  });
  new Gauge({
    name: 'supervisor_pipeline_active_runs',
    help: 'Runs queued or running, by state',
    labelNames: ['pipeline', 'state'],
    registers,
    collect() {
      // one grouped COUNT per state (this used to load up to 10,000 rows per pipeline and state per scrape)
      const counts = readOrKeep(() => (['queued', 'running'] as const).map((state) => [state, store.countByPipeline([state])] as const));
      if (!counts) return;
      this.reset();
      for (const [state, byPipeline] of counts) for (const p of params.pipelines()) this.set({ pipeline: p, state }, byPipeline.get(p) ?? 0);
    },
  });

  const kinds = new Map<string, TriggerKind>();
  const firstTaskSeen = new Set<string>();
  return {
    operation(action, pipeline, count) {
      operations.inc({ pipeline, action });
      if (action === 'clear' && count) cleared.inc({ pipeline }, count);
    },
    observe(e) {
      if (e.type === 'run') {
        kinds.set(e.runId, e.trigger);
        if (e.state === 'running' || e.state === 'queued') return;
        runs.inc({ pipeline: e.pipeline, state: e.state, trigger: e.trigger });
        if (e.durationMs !== undefined) runDuration.observe({ pipeline: e.pipeline, state: e.state }, e.durationMs / 1000);
        if (e.state === 'skipped' && e.trigger === 'cron') skipped.inc({ pipeline: e.pipeline, reason: 'gate' });
        kinds.delete(e.runId);
        firstTaskSeen.delete(e.runId);
        return;
      }
      const trigger = kinds.get(e.runId) ?? 'manual';
      if (e.state === 'running') {
        if (!firstTaskSeen.has(e.runId)) {
          firstTaskSeen.add(e.runId);
          if (trigger === 'cron') scheduleDelay.observe({ pipeline: e.pipeline }, Math.max(0, e.at - e.logicalDate) / 1000);
        }
        return;
      }
      if (e.state === 'queued' || e.state === 'none') return;
      tasks.inc({ pipeline: e.pipeline, task: e.taskId, state: e.state, trigger });
      if (e.durationMs !== undefined) taskDuration.observe({ pipeline: e.pipeline, task: e.taskId, state: e.state }, e.durationMs / 1000);
    },
    skippedTick(pipeline, reason) {
      skipped.inc({ pipeline, reason });
    },
  };
}

/** The store's answer, or undefined when it does not answer (the gauge keeps its last values). */
function readOrKeep<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
