import { parseDuration } from '../../config/duration';
import { SupervisorError } from '../../protocol';

export function durationMsParam(params: Readonly<Record<string, unknown>>, key: string, where: string): number | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : null;
  if (ms === null) throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `param "${key}" must be a duration such as "10s", got ${JSON.stringify(v)}`, { where, retryable: false });
  return ms;
}
