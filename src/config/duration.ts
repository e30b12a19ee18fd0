/**
 * Durations in the config: the one parser of src/shared/duration.ts (a bare number is
 * seconds; at most LIMITS.durationMaxMs). Re-exported here for the config's importers.
 */
export {
  parseDuration,
  parseDurationOrThrow,
  readDuration,
  formatDuration,
  durationMs,
  durationSchema,
  timerDurationMs,
  MAX_TIMER_MS,
  DURATION_HINT,
  DurationError,
} from '../shared/duration';
