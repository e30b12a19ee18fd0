/** Overview row "Pipelines": run outcomes, time since the last success, runs and tasks by state, durations, schedule delay, skipped ticks, deadlines and missed schedules. */
import { query, stateTimelinePanel, statPanel, timeseriesPanel, valueMappings, type Section } from '../panels';
import { pipeline } from './selectors';

/** Codes of the "pipeline runs" state timeline (worst outcome of the runs that ended in each interval). */
const RUN_OUTCOME_MAPPINGS = valueMappings([
  [1, 'success', 'green'],
  [2, 'skipped', 'blue'],
  [3, 'failed', 'red'],
]);

function runOutcomeExpr(): string {
  const ended = (states: string) => `sum by (pipeline) (increase(supervisor_pipeline_runs_total{${pipeline},state=~"${states}"}[$__rate_interval])) > 0`;
  // One series per pipeline: label_replace gives each outcome a distinct label set so `or`
  // keeps all of them, then `max by (pipeline)` picks the worst.
  return [
    'max by (pipeline) (',
    `    label_replace((${ended('success')}) * 0 + 1, "outcome", "success", "", "")`,
    `  or label_replace((${ended('skipped')}) * 0 + 2, "outcome", "skipped", "", "")`,
    `  or label_replace((${ended('failed|timed_out')}) * 0 + 3, "outcome", "failed", "", "")`,
    ')',
  ].join('\n');
}

const quantile = (q: number, metric: string, by: string) => `histogram_quantile(${q}, sum by (${by}, le) (rate(${metric}{${pipeline}}[$__rate_interval])))`;

export function pipelinesSection(): Section {
  return {
    title: 'Pipelines',
    panels: [
      stateTimelinePanel({
        title: 'Pipeline runs',
        description: 'Worst outcome of the runs that ended in each interval, per pipeline (empty = no run ended).',
        size: { w: 16, h: 7 },
        targets: [query(runOutcomeExpr(), { legend: '{{pipeline}}' })],
        mappings: RUN_OUTCOME_MAPPINGS,
        showValue: 'auto',
        mergeValues: false,
        insertNulls: false,
      }),
      statPanel({
        title: 'Since last success',
        description: 'Time since the last successful run of each pipeline.',
        size: { w: 8, h: 7 },
        targets: [query(`time() - max by (pipeline) (supervisor_pipeline_last_success_timestamp_seconds{${pipeline}})`, { legend: '{{pipeline}}', instant: true })],
        unit: 's',
        thresholds: [
          [null, 'green'],
          [7200, 'yellow'],
          [21600, 'red'],
        ],
        colorMode: 'background',
        textMode: 'value_and_name',
        graphMode: 'none',
      }),
      timeseriesPanel({
        title: 'Runs by state',
        description: 'Runs that reached a final state, per pipeline and state.',
        size: { w: 12, h: 7 },
        targets: [query(`sum by (pipeline, state) (increase(supervisor_pipeline_runs_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}} {{state}}' })],
        style: 'stacked-bars',
        legendCalcs: ['sum'],
        overrides: [
          { byRegexp: '.*success$', properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'green' } }] },
          { byRegexp: '.*(failed|timed_out)$', properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }] },
        ],
      }),
      timeseriesPanel({
        title: 'Active runs',
        description: 'Runs queued or running.',
        size: { w: 12, h: 7 },
        targets: [query(`sum by (pipeline, state) (supervisor_pipeline_active_runs{${pipeline}})`, { legend: '{{pipeline}} {{state}}' })],
        min: 0,
        legendCalcs: ['lastNotNull', 'max'],
      }),
      timeseriesPanel({
        title: 'Run duration',
        description: 'p50 and p95 of run durations (supervisor_pipeline_run_duration_seconds).',
        size: { w: 8, h: 7 },
        targets: [
          query(quantile(0.5, 'supervisor_pipeline_run_duration_seconds_bucket', 'pipeline'), { legend: '{{pipeline}} p50' }),
          query(quantile(0.95, 'supervisor_pipeline_run_duration_seconds_bucket', 'pipeline'), { legend: '{{pipeline}} p95' }),
        ],
        unit: 's',
        legendCalcs: ['lastNotNull', 'max'],
      }),
      timeseriesPanel({
        title: 'Task duration p95',
        description: 'p95 of task attempt durations per task.',
        size: { w: 8, h: 7 },
        targets: [query(quantile(0.95, 'supervisor_pipeline_task_duration_seconds_bucket', 'pipeline, task'), { legend: '{{pipeline}}.{{task}}' })],
        unit: 's',
        legendCalcs: ['lastNotNull', 'max'],
      }),
      timeseriesPanel({
        title: 'Schedule delay',
        description: 'Cron boundary to the first task running (p95) — how late scheduled runs start.',
        size: { w: 8, h: 7 },
        targets: [query(quantile(0.95, 'supervisor_pipeline_schedule_delay_seconds_bucket', 'pipeline'), { legend: '{{pipeline}} p95' })],
        unit: 's',
        legendCalcs: ['lastNotNull', 'max'],
      }),
      timeseriesPanel({
        title: 'Task attempts by state',
        description: 'Task attempts that ended, per task and state (retries show as failed then success).',
        size: { w: 12, h: 7 },
        targets: [
          query(`sum by (pipeline, task, state) (increase(supervisor_pipeline_task_runs_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}}.{{task}} {{state}}' }),
        ],
        style: 'stacked-bars',
        legendCalcs: ['sum'],
      }),
      timeseriesPanel({
        title: 'Skipped schedule ticks',
        description: 'Ticks not run because of the overlap policy, a clock jump or a gate.',
        size: { w: 12, h: 7 },
        targets: [query(`sum by (pipeline, reason) (increase(supervisor_pipeline_skipped_ticks_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}} {{reason}}' })],
        style: 'bars',
        legendCalcs: ['sum'],
      }),
      timeseriesPanel({
        title: 'Deadlines and missed schedules',
        description:
          'Logical dates currently past their deadline without a success (line), deadline misses and cron ticks that produced no run (bars; the schedule monitor counts each date once).',
        size: { w: 12, h: 7 },
        targets: [
          query(`max by (pipeline) (supervisor_pipeline_runs_past_deadline{${pipeline}})`, { legend: '{{pipeline}} past deadline' }),
          query(`sum by (pipeline) (increase(supervisor_pipeline_deadline_misses_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}} deadline missed' }),
          query(`sum by (pipeline) (increase(supervisor_pipeline_missed_schedules_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}} ticks missed' }),
        ],
        min: 0,
        legendCalcs: ['lastNotNull', 'max'],
        overrides: [{ byRegexp: '.*(missed)$', properties: [{ id: 'custom.drawStyle', value: 'bars' }] }],
      }),
    ],
  };
}
