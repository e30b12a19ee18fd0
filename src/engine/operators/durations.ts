import { MAX_TIMER_MS, readDuration } from '../../config/duration';
import { SupervisorError } from '../../protocol';

/**
 * A task param that is a duration: the one parser (a bare number is seconds), bounded by one
 * timer's reach (the operators arm timers with these, e.g. `kill_grace`).
 */
export function durationMsParam(params: Readonly<Record<string, unknown>>, key: string, where: string): number | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  const read = readDuration(v, { max: MAX_TIMER_MS });
  if (!read.ok) throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `param "${key}": ${read.message}`, { where, retryable: false });
  return read.ms;
}
