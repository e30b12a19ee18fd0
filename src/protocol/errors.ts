/**
 * The error catalogue: every error the supervisor reports to a person has a stable code, a
 * message saying what is wrong and where, and whether retrying can help. Codes never change
 * meaning; add new ones at the end of their group.
 */
export const ERROR_CATALOGUE = {
  // configuration and input
  SUP_ERR_CONFIG_INVALID: { retryable: false, summary: 'the configuration file is invalid' },
  SUP_ERR_CONFIG_NOT_FOUND: { retryable: false, summary: 'the configuration file does not exist' },
  SUP_ERR_CONFIG_INTERPOLATION: { retryable: false, summary: 'a ${ENV} or {{ var.x }} reference cannot be resolved' },
  SUP_ERR_USAGE: { retryable: false, summary: 'a command-line argument is invalid' },
  SUP_ERR_NOT_FOUND: { retryable: false, summary: 'the named pipeline, task, run or variable does not exist' },
  SUP_ERR_CONFLICT: { retryable: false, summary: 'the request conflicts with existing state' },
  // state store
  SUP_ERR_STORE_OPEN: { retryable: false, summary: 'the state store cannot be opened' },
  SUP_ERR_STORE_MIGRATION: { retryable: false, summary: 'a state store migration failed' },
  SUP_ERR_STORE_NEWER: { retryable: false, summary: 'the state store was written by a newer supervisor' },
  SUP_ERR_STORE_LOCKED: { retryable: false, summary: 'another supervisor process holds the state store' },
  SUP_ERR_STORE_UNAVAILABLE: { retryable: true, summary: 'the PostgreSQL state store does not answer (unreachable, hung or down)' },
  SUP_ERR_NOT_LEADER: { retryable: false, summary: 'this replica does not hold the leader lease (a leader-only write was refused)' },
  // probes and services
  SUP_ERR_PROBE_TIMEOUT: { retryable: true, summary: 'a check did not answer within its timeout' },
  SUP_ERR_PROBE_FAILED: { retryable: true, summary: 'a check failed to run' },
  SUP_ERR_KAFKA_UNREACHABLE: { retryable: true, summary: 'no Kafka broker answered' },
  SUP_ERR_SCHEMA_REGISTRY: { retryable: true, summary: 'the schema registry request failed' },
  SUP_ERR_S3: { retryable: true, summary: 'an S3 request failed' },
  SUP_ERR_DELTA_TABLE_MISSING: { retryable: true, summary: 'the Delta table has no _delta_log' },
  SUP_ERR_DELTA_CORRUPT: { retryable: false, summary: 'a Delta log file cannot be parsed' },
  SUP_ERR_SPARK_UNREACHABLE: { retryable: true, summary: 'the Spark master did not answer' },
  SUP_ERR_SPARK_BAD_RESPONSE: { retryable: true, summary: 'the Spark master answered with unexpected JSON' },
  SUP_ERR_KAFKA_AUTH: { retryable: false, summary: 'the Kafka broker refused the credentials (SASL authentication failed)' },
  SUP_ERR_KAFKA_TLS: { retryable: false, summary: 'the TLS handshake with a Kafka broker failed (certificate not trusted, wrong name, or a client certificate refused)' },
  // runs and tasks
  SUP_ERR_TASK_FAILED: { retryable: true, summary: 'a task failed' },
  SUP_ERR_TASK_TIMEOUT: { retryable: true, summary: 'a task exceeded its execution timeout' },
  SUP_ERR_RUN_TIMEOUT: { retryable: false, summary: 'a run exceeded its run timeout' },
  SUP_ERR_TASK_CANCELLED: { retryable: false, summary: 'a task was cancelled' },
  SUP_ERR_ORPHANED: { retryable: true, summary: 'a run was left running by a process that died' },
  SUP_ERR_WORKER_LOST: { retryable: true, summary: 'the task worker running a try stopped heartbeating (killed, host lost) or shut down before it finished' },
  // alerts and delivery
  SUP_ERR_SINK_DELIVERY: { retryable: true, summary: 'an alert sink did not accept a notification' },
  SUP_ERR_SINK_REJECTED: { retryable: false, summary: 'an alert sink rejected a notification permanently' },
  // HTTP API
  SUP_ERR_UNAUTHORIZED: { retryable: false, summary: 'a bearer token is missing or invalid' },
  SUP_ERR_FORBIDDEN: { retryable: false, summary: 'the token may not do this' },
  SUP_ERR_RATE_LIMITED: { retryable: true, summary: 'too many failed attempts; wait and retry' },
  SUP_ERR_BAD_REQUEST: { retryable: false, summary: 'the request is invalid' },
  SUP_ERR_METHOD_NOT_ALLOWED: { retryable: false, summary: 'the path exists but not for this method (see the Allow header)' },
  SUP_ERR_INTERNAL: { retryable: false, summary: 'an unexpected internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class SupervisorError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** Where the problem is: a file path with line:column, a YAML path, a URL, a table path. */
  readonly where?: string;
  /** Further problems reported together (e.g. every config error at once). */
  readonly problems: readonly string[];

  constructor(code: ErrorCode, message: string, options: { where?: string; problems?: readonly string[]; cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SupervisorError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CATALOGUE[code].retryable;
    if (options.where !== undefined) this.where = options.where;
    this.problems = options.problems ?? [];
  }

  /** `SUP_ERR_X: message (at where)` followed by one problem per line. */
  format(): string {
    const head = `${this.code}: ${this.message}${this.where ? ` (at ${this.where})` : ''}`;
    return [head, ...this.problems.map((p) => `  - ${p}`)].join('\n');
  }
}

export function isSupervisorError(err: unknown): err is SupervisorError {
  return err instanceof SupervisorError;
}

/** Turns anything thrown into `{ code, message }` for signals, logs and API answers. */
export function describeError(err: unknown, fallback: ErrorCode = 'SUP_ERR_INTERNAL'): { code: string; message: string } {
  if (err instanceof SupervisorError) return { code: err.code, message: err.where ? `${err.message} (at ${err.where})` : err.message };
  if (err instanceof Error) return { code: fallback, message: err.message || err.name };
  return { code: fallback, message: String(err) };
}
