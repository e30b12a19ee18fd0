import { Registry } from 'prom-client';
import { registerPipelineMetrics } from '../../../src/metrics/pipelines';
import type { RunEvent } from '../../../src/protocol';
import type { RunRecord } from '../../../src/store/runs';

const T0 = Date.parse('2026-11-28T12:00:00Z');

/** The two run-store reads the gauges make, answered from fixed tables. */
function fakeStore(lastEnd: Record<string, number>, counts: Record<'queued' | 'running', Record<string, number>>) {
  return {
    lastSuccess: (pipeline: string) => (lastEnd[pipeline] === undefined ? null : ({ endedAt: lastEnd[pipeline] } as RunRecord)),
    countByPipeline: (states: readonly string[]) => new Map(Object.entries(counts[states[0] as 'queued' | 'running'] ?? {})),
  };
}

const series = async (registry: Registry, name: string): Promise<string[]> => (await registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));

describe('pipeline metrics (src/metrics/pipelines.ts)', () => {
  it('gauges read the run store at scrape time: last success per pipeline, active runs per pipeline and state', async () => {
    const registry = new Registry();
    const pipelines = ['ingest', 'gold'];
    registerPipelineMetrics({ registry, store: fakeStore({ ingest: T0 }, { queued: { gold: 2 }, running: { ingest: 1 } }), pipelines: () => pipelines });
    expect(await series(registry, 'supervisor_pipeline_last_success_timestamp_seconds')).toEqual([
      `supervisor_pipeline_last_success_timestamp_seconds{pipeline="ingest"} ${T0 / 1000}`,
    ]);
    expect(await series(registry, 'supervisor_pipeline_active_runs')).toEqual([
      'supervisor_pipeline_active_runs{pipeline="ingest",state="queued"} 0',
      'supervisor_pipeline_active_runs{pipeline="gold",state="queued"} 2',
      'supervisor_pipeline_active_runs{pipeline="ingest",state="running"} 1',
      'supervisor_pipeline_active_runs{pipeline="gold",state="running"} 0',
    ]);
  });

  it('counts what the engine reports: final runs and tasks by trigger, durations, schedule delay, skipped ticks', async () => {
    const registry = new Registry();
    const m = registerPipelineMetrics({ registry, store: fakeStore({}, { queued: {}, running: {} }), pipelines: () => ['p'] });
    const run = (state: string, extra: object = {}): RunEvent =>
      ({ type: 'run', runId: 'r1', pipeline: 'p', state, trigger: 'cron', at: T0, logicalDate: T0, ...extra }) as unknown as RunEvent;
    const task = (state: string, extra: object = {}): RunEvent =>
      ({ type: 'task', runId: 'r1', pipeline: 'p', taskId: 't', state, at: T0 + 20, logicalDate: T0, ...extra }) as unknown as RunEvent;
    m.observe(run('running'));
    m.observe(task('running'));
    m.observe(task('running', { at: T0 + 900 })); // only the first task start is a schedule delay
    m.observe(task('success', { durationMs: 2_000 }));
    m.observe(run('success', { durationMs: 3_000 }));
    m.skippedTick('p', 'overlap');
    expect(await series(registry, 'supervisor_pipeline_runs_total')).toEqual(['supervisor_pipeline_runs_total{pipeline="p",state="success",trigger="cron"} 1']);
    expect(await series(registry, 'supervisor_pipeline_task_runs_total')).toEqual(['supervisor_pipeline_task_runs_total{pipeline="p",task="t",state="success",trigger="cron"} 1']);
    expect(await series(registry, 'supervisor_pipeline_run_duration_seconds')).toContain('supervisor_pipeline_run_duration_seconds_sum{pipeline="p",state="success"} 3');
    expect(await series(registry, 'supervisor_pipeline_task_duration_seconds')).toContain('supervisor_pipeline_task_duration_seconds_sum{pipeline="p",task="t",state="success"} 2');
    expect(await series(registry, 'supervisor_pipeline_schedule_delay_seconds')).toContain('supervisor_pipeline_schedule_delay_seconds_sum{pipeline="p"} 0.02');
    expect(await series(registry, 'supervisor_pipeline_schedule_delay_seconds')).toContain('supervisor_pipeline_schedule_delay_seconds_count{pipeline="p"} 1');
    expect(await series(registry, 'supervisor_pipeline_skipped_ticks_total')).toEqual(['supervisor_pipeline_skipped_ticks_total{pipeline="p",reason="overlap"} 1']);
  });
});
