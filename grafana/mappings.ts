/** Value mappings of the supervisor's status codes, shared by the dashboards. */
import { valueMappings } from './panels';

/** `supervisor_check_status`: 0 ok, 1 warn, 2 unknown, 3 crit (src/protocol/status.ts). */
export const CHECK_STATUS_MAPPINGS = valueMappings([
  [0, 'OK', 'green'],
  [1, 'WARN', 'yellow'],
  [2, 'UNKNOWN', 'orange'],
  [3, 'CRIT', 'red'],
]);

/** Threshold colours matching CHECK_STATUS_MAPPINGS. */
export const CHECK_STATUS_THRESHOLDS = [
  [null, 'green'],
  [1, 'yellow'],
  [2, 'orange'],
  [3, 'red'],
] as const;

/** `supervisor_kafka_consumer_group_status`: Burrow states (LAG_STATUS_CODE in signal-metrics.ts). */
export const LAG_STATUS_MAPPINGS = valueMappings([
  [0, 'OK', 'green'],
  [1, 'WARN', 'yellow'],
  [2, 'STALL', 'red'],
  [3, 'STOP', 'red'],
  [4, 'REWIND', 'orange'],
  [5, 'ERR', 'red'],
  [6, 'NOTFOUND', 'purple'],
]);

/** Threshold colours of the consumer group status timelines. */
export const LAG_STATUS_THRESHOLDS = [
  [null, 'green'],
  [1, 'yellow'],
  [2, 'red'],
] as const;
