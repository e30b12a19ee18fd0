import type { Notification, Severity } from '../../protocol';
import type { NotifyFn, Operator, TaskContext } from '../operator';
import { stringParam, whereOf } from './process-task';

/**
 * `notify` (the seed's send_success_notification): one `info` notification per run, deduped
 * by run and task so a retry never notifies twice. Params: message, severity, title.
 */
export function createNotifyOperator(notify: NotifyFn | undefined): Operator {
  return async (ctx) => {
    const where = whereOf(ctx);
    const message = stringParam(ctx.params, 'message', where) ?? `${ctx.pipeline} finished`;
    const severity = (stringParam(ctx.params, 'severity', where) ?? 'info') as Severity;
    const notification: Notification = {
      dedupKey: `${ctx.runId}|${ctx.taskId}`,
      kind: 'info',
      rule: `pipeline:${ctx.pipeline}`,
      severity,
      title: stringParam(ctx.params, 'title', where) ?? message,
      text: [message, `run ${ctx.runId} (logical date ${new Date(ctx.logicalDate).toISOString()})`, ...upstreamLines(ctx)].join('\n'),
      labels: { pipeline: ctx.pipeline, task: ctx.taskId },
      annotations: { run_id: ctx.runId },
      startsAt: ctx.now(),
      items: ctx.upstream.map((u) => ({ name: u.taskId, status: u.state, summary: summarize(u.result, u.reason) })),
    };
    if (!notify) {
      ctx.log('[supervisor] no notification channel is wired; message logged only');
      ctx.log(notification.text);
      return { result: { delivered: false, dedupKey: notification.dedupKey } };
    }
    await notify(notification);
    ctx.log(`[supervisor] notification queued: ${notification.title}`);
    return { result: { delivered: true, dedupKey: notification.dedupKey } };
  };
}

export function upstreamLines(ctx: Pick<TaskContext, 'upstream'>): string[] {
  return ctx.upstream.map((u) => `- ${u.taskId}: ${u.state}${u.reason ? ` (${u.reason})` : ''}`);
}

export function summarize(result: unknown, reason: string | null): string {
  if (reason) return reason;
  if (result === null || result === undefined) return '';
  if (typeof result === 'object' && 'summary' in result && typeof result.summary === 'string') {
    return (result as { summary: string }).summary;
  }
  const text = JSON.stringify(result);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
