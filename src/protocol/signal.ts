import type { Status } from './status';

/** The kinds of probe a config's `checks:` section configures. A configured check has a name and one kind. */
export type ConfiguredCheckKind = 'kafka_cluster' | 'consumer_lag' | 'schema_registry' | 'delta_freshness' | 'spark';

/**
 * The supervisor's own probes over its run store (src/engine/schedule-monitor.ts): runs past
 * their pipeline's deadline, cron ticks that produced no run. Not configured under `checks:`.
 */
export type PipelineCheckKind = 'pipeline_deadline' | 'pipeline_schedule';

/** The kinds of probe the supervisor ships. */
export type CheckKind = ConfiguredCheckKind | PipelineCheckKind;

/** Target of the one signal that stands for a whole probe run that failed or timed out. */
export const CHECK_WIDE_TARGET = '*';

export interface SignalError {
  /** Stable catalogue code, e.g. SUP_ERR_PROBE_TIMEOUT (see errors.ts). */
  code: string;
  message: string;
}

/**
 * One observation made by one check about one target. Every probe result is a Signal; an
 * exception inside a probe becomes `status: 'unknown'` with `error`, never a dead stream.
 */
export interface Signal {
  /** Configured check name, e.g. `bronze_freshness`, `kafka`, `lag_spark_bronze`. */
  check: string;
  kind: CheckKind;
  /** What was observed: bootstrap servers, table path, master URL, `group/topic`... */
  target: string;
  /** Extra identifying labels (low cardinality: layer, group, topic, app). */
  labels: Readonly<Record<string, string>>;
  status: Status;
  /** The headline number (freshness age, total lag, alive workers...) in `unit`. */
  value?: number;
  unit?: 'seconds' | 'messages' | 'count' | 'bytes' | 'ratio';
  /** The threshold `value` was compared with, in the same unit, when there is one. */
  threshold?: number;
  /** Epoch milliseconds when the probe finished. */
  observedAt: number;
  /** How long the probe took, in milliseconds. */
  durationMs: number;
  /** One human sentence: "gold last changed 3m12s ago (threshold 2h)". */
  summary: string;
  /** Check-specific measurements for metrics and the health API. */
  facts?: SignalFacts;
  error?: SignalError;
}

export type SignalFacts = KafkaClusterFacts | ConsumerLagFacts | SchemaRegistryFacts | DeltaFacts | SparkFacts | PipelineDeadlineFacts | PipelineScheduleFacts;

export interface KafkaClusterFacts {
  kind: 'kafka_cluster';
  brokers: number;
  expectedBrokers: number;
  controllerId: number | null;
  topics: number;
  missingTopics: string[];
  partitions: number;
  offlinePartitions: number;
  underReplicatedPartitions: number;
}

/** Burrow's evaluation states, per partition and (worst partition) per group. */
export type LagStatus = 'OK' | 'WARN' | 'STALL' | 'STOP' | 'REWIND' | 'ERR' | 'NOTFOUND';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** null when the group never committed on this partition. */
  committedOffset: number | null;
  endOffset: number;
  /** null when the group never committed (never shown as zero). */
  lag: number | null;
  /** Estimated seconds behind, interpolated from the end-offset history; null when unknown. */
  lagSeconds: number | null;
  status: LagStatus;
}

export interface ConsumerLagFacts {
  kind: 'consumer_lag';
  group: string;
  groupState?: string;
  status: LagStatus;
  totalLag: number;
  maxLagSeconds: number | null;
  partitions: PartitionLag[];
}

export interface SchemaSubjectFacts {
  subject: string;
  exists: boolean;
  latestVersion: number | null;
  schemaId: number | null;
}

export interface SchemaRegistryFacts {
  kind: 'schema_registry';
  reachable: boolean;
  subjects: SchemaSubjectFacts[];
  /** Event-time freshness of sampled records, per topic, in seconds; null when not sampled. */
  eventAgeSeconds?: Record<string, number | null>;
}

export interface DeltaFacts {
  kind: 'delta_freshness';
  table: string;
  version: number | null;
  /** Epoch ms of the newest commit (any operation). */
  lastCommitAt: number | null;
  /** Epoch ms of the newest data-changing commit. */
  lastDataChangeAt: number | null;
  /** Version of the newest data-changing commit. */
  lastDataChangeVersion: number | null;
  ageSeconds: number | null;
  thresholdSeconds: number;
  /** `inCommitTimestamp` or the object's `LastModified`. */
  timeSource: 'inCommitTimestamp' | 'lastModified' | null;
  /** S3/file-system requests this check made (the budget is three). */
  requests: number;
  /** Version named by `_last_checkpoint`, null when absent or unreadable. */
  checkpointVersion?: number | null;
  /** `commitInfo.operation` of the newest commit (WRITE, OPTIMIZE, SET TBLPROPERTIES...). */
  lastOperation?: string | null;
  /**
   * When the newest data change was not found within the per-run walk-back budget (or the
   * log history before it was removed): the data is at least `ageSeconds` old and
   * `lastDataChangeAt` is null. Absent when the data change was found.
   */
  lowerBound?: 'walk-back-budget' | 'history-removed' | 'no-data-ever';
}

export interface SparkAppFacts {
  id: string;
  name: string;
  state: string;
  durationSeconds: number;
  cores?: number;
}

export interface StreamingQueryFacts {
  name: string;
  inputRowsPerSecond: number | null;
  processedRowsPerSecond: number | null;
  lastProgressAgeSeconds: number | null;
  /** Duration of the last trigger (batch), ms. */
  latencyMs?: number;
  /** Age of the query's event-time watermark, seconds (only when the query has one). */
  watermarkAgeSeconds?: number;
}

export interface SparkFacts {
  kind: 'spark';
  masterStatus: string | null;
  aliveWorkers: number;
  expectedWorkers: number;
  apps: SparkAppFacts[];
  /** Expected application names with whether a RUNNING app matched each. */
  expectedApps: Array<{ name: string; running: boolean }>;
  queries?: StreamingQueryFacts[];
}

/** Why a logical date is past its deadline without a success. */
export type DeadlineMissReason = 'never_started' | 'gated' | 'skipped' | 'queued_behind_overlap' | 'queued' | 'running' | 'failed' | 'timed_out' | 'cancelled' | 'no_run';

/** One logical date past its deadline without a successful run. */
export interface DeadlineMiss {
  /** Epoch ms (the cron tick, or the run's logical date). */
  logicalDate: number;
  /** Epoch ms the deadline passed. */
  dueAt: number;
  reason: DeadlineMissReason;
  /** The newest run of that date (null: none, e.g. the daemon was down at the tick). */
  runId: string | null;
  /** One sentence: "skipped by its gate: consumer group g lags 5 messages…". */
  detail: string;
}

export interface PipelineDeadlineFacts {
  kind: 'pipeline_deadline';
  pipeline: string;
  afterSeconds: number;
  from: 'logical_date' | 'queued_at';
  paused: boolean;
  /** Epoch ms of the oldest logical date considered (lookback, first seen, last unpause). */
  windowStart: number;
  /** How many logical dates are past their deadline without a success. */
  overdueCount: number;
  /** Those dates, oldest first (at most the first 20). */
  overdue: DeadlineMiss[];
}

/** Likely cause of a cron tick that produced no run. */
export type MissedTickCause = 'daemon_down' | 'overlap' | 'clock_jump';

export interface MissedTick {
  /** Epoch ms of the tick (its logical date). */
  tick: number;
  cause: MissedTickCause;
}

export interface PipelineScheduleFacts {
  kind: 'pipeline_schedule';
  pipeline: string;
  paused: boolean;
  windowStart: number;
  /** Ticks in the window with no run at all and no later successful run. */
  missedCount: number;
  /** Those ticks, oldest first (at most the first 20). */
  missed: MissedTick[];
}

/**
 * Everything a probe needs from its surroundings. Probes are plain async functions: no RxJS,
 * no timers of their own, no global state. The scheduler passes an AbortSignal that fires on
 * timeout or shutdown; probes must pass it down to their I/O.
 */
export interface ProbeContext {
  signal: AbortSignal;
  now(): number;
}

/**
 * A configured check, ready to be scheduled: a name, an interval and a probe.
 *
 * The error contract of `probe` (one for every check in checks/):
 * - It **returns signals only for what it observed**. A target it knows from its configuration
 *   (a table, a Spark master, a broker list) or discovered this cycle (a consumer group) that
 *   fails on its own is a signal *of that target* (its `target`, `labels`, `facts`, `error`,
 *   status `unknown`, or `crit` when the failure is itself the observation, e.g. a missing Delta
 *   table or a refused connection). A partial failure never hides the other targets.
 * - It **throws** (a SupervisorError naming the cause, or the library's error as is) when it
 *   cannot observe at all, i.e. no target can be named (listing the consumer groups failed,
 *   the commits stream is not live), and on a bug outside the reading of one target. It does
 *   not wrap its whole body in a catch that turns anything into a signal.
 * - The scheduler alone (streams/check-scheduler.ts `runOnce`) turns a throw, a timeout or an
 *   empty answer into the check-wide `unknown` signal (`check <name> could not run: ...`).
 */
export interface CheckProbe {
  name: string;
  kind: CheckKind;
  intervalMs: number;
  timeoutMs: number;
  /** Returns one or more signals (lag returns one per group). */
  probe(ctx: ProbeContext): Promise<Signal[]>;
  /** Releases connections the probe keeps between runs (Kafka admin, S3 client...). */
  close?(): Promise<void>;
}
