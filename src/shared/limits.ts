/**
 * The one set of input limits. The CLI, the HTTP API (its JSON schemas) and the config loader
 * all read these, so a value accepted in one place is never refused in another.
 */
export const LIMITS = {
  /** identifiers: pipeline, task, check, sink and token names; run ids */
  nameLength: 200,
  /** variable keys (pattern VARIABLE_KEY) */
  variableKeyLength: 200,
  /** variable values, in characters */
  variableValueLength: 65_536,
  /** a user-supplied regular expression (silence, rule, inhibition matchers, include/exclude) */
  regexLength: 500,
  /** free text: silence comments, audit reasons */
  commentLength: 1_000,
  /** runs a backfill may have in flight at once */
  backfillMaxActive: 64,
  /** logical dates one backfill may plan */
  backfillMaxRuns: 10_000,
  /** nesting depth of a run's conf object */
  confDepth: 32,
  /** serialized size of a run's conf, in bytes */
  confBytes: 65_536,
  /** the configuration file, in bytes */
  configFileBytes: 1_048_576,
  /** a duration may not exceed this (longer waits are scheduled in bounded steps below it) */
  durationMaxMs: 366 * 86_400_000,
  /** a page of list results */
  pageSize: 500,
} as const;

/** The characters that are not printable as-is when echoing user data to a terminal. */
// eslint-disable-next-line no-control-regex -- matching control characters is this expression's purpose
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Replaces control characters (ANSI escapes, NUL, backspace…) with visible `\uXXXX` escapes. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
