/**
 * Backfill: plan the logical dates of a range from the pipeline's schedule (which already have
 * a run, which are run again under `reprocess`), answer the plan alone for a dry run, or run
 * the planned dates with at most `maxActive` at a time.
 */
import { SupervisorError, type RunState } from '../protocol';
import type { RunStore } from '../store/runs';
import { compileSchedule, ticksInRange } from '../../streams/cron';
import type { PipelineSpec } from './dag';
import type { RunSummary } from './run-summary';

/** Most schedule ticks one backfill covers. */
export const MAX_BACKFILL_TICKS = 10_000;

export interface BackfillOptions {
  startDate: number;
  endDate: number;
  dryRun?: boolean;
  /** Which logical dates that already have a run are run again. Default none. */
  reprocess?: 'none' | 'failed' | 'all';
  maxActive?: number;
  conf?: Record<string, unknown>;
  onProgress?: (progress: { done: number; total: number; last?: RunSummary }) => void;
}

export interface BackfillPlanItem {
  logicalDate: number;
  action: 'run' | 'rerun' | 'skip';
  existing: { runId: string; state: RunState } | null;
}

export interface BackfillCounts {
  total: number;
  run: number;
  rerun: number;
  skippedExisting: number;
  success: number;
  failed: number;
}

export interface BackfillSummary {
  pipeline: string;
  dryRun: boolean;
  plan: BackfillPlanItem[];
  runs: RunSummary[];
  counts: BackfillCounts;
}

const RERUN_WHEN_FAILED: ReadonlySet<RunState> = new Set(['failed', 'timed_out', 'skipped']);

/** The logical dates of the range and what happens to each; throws SUP_ERR_USAGE on a bad range. */
export function planBackfill(store: Pick<RunStore, 'findRun'>, spec: PipelineSpec, options: Pick<BackfillOptions, 'startDate' | 'endDate' | 'reprocess'>): BackfillPlanItem[] {
  if (!spec.schedule) throw new SupervisorError('SUP_ERR_USAGE', `pipeline "${spec.id}" has no schedule: backfill needs one to know its logical dates`);
  if (!(options.endDate >= options.startDate)) throw new SupervisorError('SUP_ERR_USAGE', '--end-date must not be before --start-date');
  const cron = compileSchedule(spec.schedule, spec.timezone);
  const ticks = ticksInRange(cron, options.startDate, options.endDate, MAX_BACKFILL_TICKS + 1);
  if (ticks.length > MAX_BACKFILL_TICKS) throw new SupervisorError('SUP_ERR_USAGE', `the range covers more than ${MAX_BACKFILL_TICKS} schedule ticks; narrow it`);
  const reprocess = options.reprocess ?? 'none';
  return ticks.map((tick) => {
    const existing = store.findRun(spec.id, tick);
    if (!existing) return { logicalDate: tick, action: 'run', existing: null };
    const rerun = reprocess === 'all' || (reprocess === 'failed' && RERUN_WHEN_FAILED.has(existing.state));
    return { logicalDate: tick, action: rerun ? 'rerun' : 'skip', existing: { runId: existing.id, state: existing.state } };
  });
}

export function countPlan(plan: readonly BackfillPlanItem[]): BackfillCounts {
  return {
    total: plan.length,
    run: plan.filter((p) => p.action === 'run').length,
    rerun: plan.filter((p) => p.action === 'rerun').length,
    skippedExisting: plan.filter((p) => p.action === 'skip').length,
    success: 0,
    failed: 0,
  };
}

export interface BackfillRunParams {
  /** Queues (and claims and starts) the run of one planned date; answers its id. */
  startRun(item: BackfillPlanItem): string;
  waitForRun(runId: string): Promise<RunSummary>;
  /** Stops taking further dates (shutdown). */
  aborted(): boolean;
}

/** Runs the planned dates (skips excluded), at most `maxActive` at once; fills `summary`. */
export async function runBackfill(params: BackfillRunParams, summary: BackfillSummary, maxActive: number, onProgress?: BackfillOptions['onProgress']): Promise<void> {
  const todo = summary.plan.filter((p) => p.action !== 'skip');
  const workers = Math.min(Math.max(1, maxActive), Math.max(1, todo.length));
  let done = 0;
  let next = 0;
  onProgress?.({ done, total: todo.length });
  const worker = async (): Promise<void> => {
    while (next < todo.length && !params.aborted()) {
      const item = todo[next++]!;
      const result = await params.waitForRun(params.startRun(item));
      summary.runs.push(result);
      if (result.state === 'success') summary.counts.success += 1;
      else summary.counts.failed += 1;
      done += 1;
      onProgress?.({ done, total: todo.length, last: result });
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  summary.runs.sort((a, b) => a.logicalDate - b.logicalDate);
}
