import { worstStatus, type Status } from '../../protocol';
import type { LatestSignalsFn, Operator } from '../operator';
import { summarize } from './notify';

/**
 * `collect_metrics` (the seed's aggregation step): summarises the latest check signals and the
 * upstream task outcomes into the task result (what the monitoring DAG used to push to XCom).
 */
export function createCollectMetricsOperator(latestSignals: LatestSignalsFn | undefined): Operator {
  return async (ctx) => {
    const signals = latestSignals?.() ?? [];
    const byStatus: Record<Status, number> = { ok: 0, warn: 0, unknown: 0, crit: 0 };
    for (const s of signals) byStatus[s.status] += 1;
    const tasks = ctx.upstream.map((u) => ({ task: u.taskId, state: u.state, summary: summarize(u.result, u.reason) }));
    const result = {
      observedAt: ctx.now(),
      overall: worstStatus(signals.map((s) => s.status)),
      signals: byStatus,
      checks: signals.map((s) => ({ check: s.check, target: s.target, status: s.status, value: s.value ?? null, unit: s.unit ?? null, summary: s.summary })),
      tasks: {
        total: tasks.length,
        success: tasks.filter((t) => t.state === 'success').length,
        failed: tasks.filter((t) => t.state !== 'success' && t.state !== 'skipped').length,
        items: tasks,
      },
    };
    ctx.log(`[supervisor] ${signals.length} signal(s): ${JSON.stringify(byStatus)}; ${tasks.length} upstream task(s), ${result.tasks.failed} not successful`);
    return { result };
  };
}
