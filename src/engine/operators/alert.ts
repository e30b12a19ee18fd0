import { isTaskFailed } from '../dag';
import type { Notification, Severity } from '../../protocol';
import type { NotifyFn, Operator } from '../operator';
import { summarize } from './notify';
import { stringParam, whereOf } from './process-task';

/**
 * `alert` (the seed's alert_on_failure, trigger rule one_failed): a firing notification that
 * lists the failed upstream tasks with their reasons. Skipped when nothing failed.
 */
export function createAlertOperator(notify: NotifyFn | undefined): Operator {
  return async (ctx) => {
    const failed = ctx.upstream.filter((u) => isTaskFailed(u.state));
    if (failed.length === 0) return { skipped: 'no upstream task failed' };
    const where = whereOf(ctx);
    const severity = (stringParam(ctx.params, 'severity', where) ?? 'critical') as Severity;
    const title = `${ctx.pipeline}: ${failed.length} task(s) failed (${failed.map((f) => f.taskId).join(', ')})`;
    const notification: Notification = {
      dedupKey: `${ctx.runId}|${ctx.taskId}`,
      kind: 'firing',
      rule: `pipeline:${ctx.pipeline}`,
      severity,
      title,
      text: [
        title,
        `run ${ctx.runId} (logical date ${new Date(ctx.logicalDate).toISOString()})`,
        ...failed.map((f) => `- ${f.taskId}: ${f.state} — ${summarize(f.result, f.reason)}`),
      ].join('\n'),
      labels: { pipeline: ctx.pipeline, task: ctx.taskId },
      annotations: { run_id: ctx.runId },
      startsAt: ctx.now(),
      items: failed.map((f) => ({ name: f.taskId, status: f.state, summary: summarize(f.result, f.reason) })),
    };
    for (const line of notification.text.split('\n')) ctx.log(line);
    if (notify) await notify(notification);
    else ctx.log('[supervisor] no notification channel is wired; alert logged only');
    return { result: { failed: failed.map((f) => f.taskId), delivered: notify !== undefined, dedupKey: notification.dedupKey } };
  };
}
