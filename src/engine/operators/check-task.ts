import { SupervisorError, worstStatus, type Signal } from '../../protocol';
import type { Operator, TaskContext } from '../operator';

/** What a check operator does: map the task's params to a probe and return its signal(s). */
export type SignalTask = (ctx: TaskContext) => Promise<Signal | readonly Signal[]>;

/**
 * Adapts a check probe to a task (kafka_health, data_freshness, spark_job, schema_registry):
 * ok/warn → success with the signals as result; crit/unknown → the task fails with the
 * signals' summaries (retried per policy).
 */
export function createSignalOperator(run: SignalTask): Operator {
  return async (ctx) => {
    const out = await run(ctx);
    const signals = Array.isArray(out) ? (out as readonly Signal[]) : [out as Signal];
    for (const s of signals) ctx.log(`[${s.status}] ${s.check} ${s.target}: ${s.summary}`);
    const status = worstStatus(signals.map((s) => s.status));
    const result = {
      status,
      summary: signals.map((s) => s.summary).join('; '),
      signals: signals.map((s) => ({
        check: s.check,
        target: s.target,
        status: s.status,
        value: s.value ?? null,
        unit: s.unit ?? null,
        summary: s.summary,
        error: s.error ?? null,
      })),
    };
    if (signals.length === 0) throw new SupervisorError('SUP_ERR_PROBE_FAILED', 'the check returned no signal');
    if (status === 'crit' || status === 'unknown') {
      const bad = signals.filter((s) => s.status === 'crit' || s.status === 'unknown');
      throw Object.assign(new SupervisorError('SUP_ERR_PROBE_FAILED', bad.map((s) => `${s.status}: ${s.summary}`).join('; '), { retryable: true }), { result });
    }
    return { result };
  };
}
