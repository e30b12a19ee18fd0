/**
 * Schedule monitor metrics (src/engine/schedule-monitor.ts): deadline misses and missed
 * schedule ticks, counted once per logical date as the monitor finds them, and a gauge of the
 * logical dates currently past their deadline, read from the monitor's latest evaluation in
 * collect().
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ScheduleMonitorMetrics } from '../engine/schedule-monitor';

export interface ScheduleMonitorMetricsParams {
  registry?: Registry | undefined;
  /** Logical dates past their deadline without a success, per pipeline (the monitor's `overdue()`). */
  overdue: () => ReadonlyMap<string, number>;
  /** Pipelines whose counters start at 0 (so a first miss is an increase, not a new series). */
  pipelines?: readonly string[];
}

export function registerScheduleMonitorMetrics(params: ScheduleMonitorMetricsParams): ScheduleMonitorMetrics {
  const registers = [params.registry ?? new Registry()];
  const misses = new Counter({
    name: 'supervisor_pipeline_deadline_misses_total',
    help: 'Logical dates that passed their pipeline deadline without a successful run (each counted once)',
    labelNames: ['pipeline'] as const,
    registers,
  });
  const missed = new Counter({
    name: 'supervisor_pipeline_missed_schedules_total',
    help: 'Cron ticks that produced no run while the pipeline was not paused (supervisor down, overlap skip, clock jump; each counted once)',
    labelNames: ['pipeline'] as const,
    registers,
  });
  for (const pipeline of params.pipelines ?? []) {
    misses.inc({ pipeline }, 0);
    missed.inc({ pipeline }, 0);
  }
  new Gauge({
    name: 'supervisor_pipeline_runs_past_deadline',
    help: 'Logical dates currently past their pipeline deadline without a successful run',
    labelNames: ['pipeline'] as const,
    registers,
    collect() {
      this.reset();
      const overdue = params.overdue();
      // every pipeline (0 without a deadline), so a dashboard's query has a series for each
      for (const pipeline of params.pipelines ?? []) this.set({ pipeline }, overdue.get(pipeline) ?? 0);
      for (const [pipeline, n] of overdue) this.set({ pipeline }, n);
    },
  });
  return {
    deadlineMissed: (pipeline, count) => misses.inc({ pipeline }, count),
    scheduleMissed: (pipeline, count) => missed.inc({ pipeline }, count),
  };
}
