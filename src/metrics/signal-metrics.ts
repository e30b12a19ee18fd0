import type { Registry } from 'prom-client';
import { statusRank, type LagStatus, type Signal } from '../protocol';
import { registerSnapshotGauge, type Sample } from './snapshot-gauge';

/** Numeric codes of Burrow's consumer-group states (`supervisor_kafka_consumer_group_status`). */
export const LAG_STATUS_CODE: Record<LagStatus, number> = { OK: 0, WARN: 1, STALL: 2, STOP: 3, REWIND: 4, ERR: 5, NOTFOUND: 6 };

export interface SignalMetricsParams {
  registry: Registry;
  /** The latest signal per key (the state stream's current value). */
  latest: () => Iterable<Signal>;
  now?: () => number;
}

/**
 * Every signal-derived gauge. Point-in-time values are read from the latest state at scrape
 * time; ages (freshness, time since progress) are computed against the scrape's clock so they
 * keep growing between probe runs.
 */
export function registerSignalMetrics({ registry, latest, now = Date.now }: SignalMetricsParams): void {
  const gauge = (name: string, help: string, collect: (signals: Signal[]) => Iterable<Sample>): void =>
    registerSnapshotGauge(registry, { name, help, collect: () => collect([...latest()]) });
  const of = <K extends NonNullable<Signal['facts']>['kind']>(signals: Signal[], kind: K) =>
    signals.flatMap((s) => (s.facts?.kind === kind ? [{ s, f: s.facts as Extract<NonNullable<Signal['facts']>, { kind: K }> }] : []));

  // --- every check
  gauge('supervisor_check_up', '1 when the check could run and get an answer, 0 when its status is unknown.', (signals) =>
    signals.map((s) => ({ labels: { check: s.check, kind: s.kind, target: s.target }, value: s.status === 'unknown' ? 0 : 1 })),
  );
  gauge('supervisor_check_status', 'Check status: 0 ok, 1 warn, 2 unknown, 3 crit.', (signals) =>
    signals.map((s) => ({ labels: { check: s.check, kind: s.kind, target: s.target }, value: statusRank(s.status) })),
  );
  gauge('supervisor_check_duration_seconds', 'How long the last run of the check took.', (signals) =>
    signals.map((s) => ({ labels: { check: s.check, kind: s.kind, target: s.target }, value: s.durationMs / 1000 })),
  );
  gauge('supervisor_check_last_run_timestamp_seconds', 'When the check last finished (Unix time).', (signals) =>
    signals.map((s) => ({ labels: { check: s.check, kind: s.kind, target: s.target }, value: s.observedAt / 1000 })),
  );

  // --- Kafka cluster
  const kafka = (name: string, help: string, pick: (f: Extract<NonNullable<Signal['facts']>, { kind: 'kafka_cluster' }>) => number): void =>
    gauge(name, help, (signals) => of(signals, 'kafka_cluster').map(({ s, f }) => ({ labels: { check: s.check }, value: pick(f) })));
  kafka('supervisor_kafka_brokers', 'Brokers in the cluster metadata.', (f) => f.brokers);
  kafka('supervisor_kafka_brokers_expected', 'Brokers the config expects.', (f) => f.expectedBrokers);
  kafka('supervisor_kafka_controller_present', '1 when the cluster reports an active controller.', (f) => (f.controllerId === null ? 0 : 1));
  kafka('supervisor_kafka_partitions', 'Partitions of the watched topics.', (f) => f.partitions);
  kafka('supervisor_kafka_partitions_offline', 'Partitions without a leader.', (f) => f.offlinePartitions);
  kafka('supervisor_kafka_partitions_under_replicated', 'Partitions with fewer in-sync replicas than replicas.', (f) => f.underReplicatedPartitions);
  kafka('supervisor_kafka_topics_missing', 'Required topics that do not exist.', (f) => f.missingTopics.length);

  // --- consumer lag
  gauge('supervisor_kafka_consumer_group_lag_messages', 'Total lag of a consumer group, in messages (groups that never committed are absent).', (signals) =>
    of(signals, 'consumer_lag').flatMap(({ f }) => (f.partitions.some((p) => p.lag !== null) ? [{ labels: { group: f.group }, value: f.totalLag }] : [])),
  );
  gauge('supervisor_kafka_consumer_group_lag_seconds', 'Largest estimated time lag of a consumer group over its partitions.', (signals) =>
    of(signals, 'consumer_lag').flatMap(({ f }) => (f.maxLagSeconds === null ? [] : [{ labels: { group: f.group }, value: f.maxLagSeconds }])),
  );
  gauge('supervisor_kafka_consumer_group_status', 'Burrow status of a consumer group: 0 OK, 1 WARN, 2 STALL, 3 STOP, 4 REWIND, 5 ERR, 6 NOTFOUND (never committed).', (signals) =>
    of(signals, 'consumer_lag').map(({ f }) => ({ labels: { group: f.group }, value: LAG_STATUS_CODE[f.status] })),
  );
  gauge('supervisor_kafka_consumer_lag_messages', 'Lag of a consumer group on one partition, in messages.', function* (signals) {
    for (const { f } of of(signals, 'consumer_lag'))
      for (const p of f.partitions) if (p.lag !== null) yield { labels: { group: f.group, topic: p.topic, partition: p.partition }, value: p.lag };
  });
  gauge('supervisor_kafka_consumer_lag_seconds', 'Estimated time lag of a consumer group on one partition (interpolated from end-offset history).', function* (signals) {
    for (const { f } of of(signals, 'consumer_lag'))
      for (const p of f.partitions) if (p.lagSeconds !== null) yield { labels: { group: f.group, topic: p.topic, partition: p.partition }, value: p.lagSeconds };
  });
  gauge('supervisor_kafka_consumer_committed_offset', 'Last committed offset of a consumer group on one partition.', function* (signals) {
    for (const { f } of of(signals, 'consumer_lag'))
      for (const p of f.partitions) if (p.committedOffset !== null) yield { labels: { group: f.group, topic: p.topic, partition: p.partition }, value: p.committedOffset };
  });
  gauge('supervisor_kafka_partition_end_offset', 'End (high-water) offset of a partition.', function* (signals) {
    const seen = new Set<string>();
    for (const { f } of of(signals, 'consumer_lag'))
      for (const p of f.partitions) {
        const key = `${p.topic}\u0000${p.partition}`;
        if (seen.has(key)) continue;
        seen.add(key);
        yield { labels: { topic: p.topic, partition: p.partition }, value: p.endOffset };
      }
  });

  // --- schema registry
  gauge('supervisor_schema_registry_up', '1 when the schema registry answered.', (signals) =>
    of(signals, 'schema_registry').map(({ s, f }) => ({ labels: { check: s.check }, value: f.reachable ? 1 : 0 })),
  );
  gauge('supervisor_schema_registry_subject_version', 'Latest version of a required subject (absent when the subject is missing).', function* (signals) {
    for (const { s, f } of of(signals, 'schema_registry'))
      for (const sub of f.subjects) if (sub.latestVersion !== null) yield { labels: { check: s.check, subject: sub.subject }, value: sub.latestVersion };
  });
  gauge('supervisor_schema_registry_subject_missing', '1 when a required subject does not exist.', function* (signals) {
    for (const { s, f } of of(signals, 'schema_registry')) for (const sub of f.subjects) yield { labels: { check: s.check, subject: sub.subject }, value: sub.exists ? 0 : 1 };
  });
  gauge('supervisor_topic_event_age_seconds', 'Age of the newest record of a topic by its event-time field (decoded through the registry).', function* (signals) {
    for (const { s, f } of of(signals, 'schema_registry'))
      for (const [topic, age] of Object.entries(f.eventAgeSeconds ?? {})) if (age !== null) yield { labels: { check: s.check, topic }, value: age };
  });

  // --- Delta tables
  const delta = (name: string, help: string, pick: (f: Extract<NonNullable<Signal['facts']>, { kind: 'delta_freshness' }>) => number | null): void =>
    gauge(name, help, (signals) =>
      of(signals, 'delta_freshness').flatMap(({ s, f }) => {
        const v = pick(f);
        return v === null ? [] : [{ labels: { check: s.check, table: f.table }, value: v }];
      }),
    );
  delta('supervisor_delta_table_version', 'Newest version of the Delta table log.', (f) => f.version);
  delta('supervisor_delta_last_commit_timestamp_seconds', 'Time of the newest commit of any kind (Unix time).', (f) => (f.lastCommitAt === null ? null : f.lastCommitAt / 1000));
  delta('supervisor_delta_last_data_change_timestamp_seconds', 'Time of the newest data-changing commit (Unix time).', (f) => (f.lastDataChangeAt === null ? null : f.lastDataChangeAt / 1000));
  delta('supervisor_delta_freshness_seconds', 'Age of the newest data-changing commit at scrape time.', (f) => (f.lastDataChangeAt === null ? null : Math.max(0, (now() - f.lastDataChangeAt) / 1000)));
  delta('supervisor_delta_freshness_threshold_seconds', 'Maximum allowed age of the newest data-changing commit.', (f) => f.thresholdSeconds);
  delta('supervisor_delta_check_requests', 'Storage requests the last check made (budget: 3).', (f) => f.requests);

  // --- Spark
  const spark = (name: string, help: string, pick: (f: Extract<NonNullable<Signal['facts']>, { kind: 'spark' }>) => number): void =>
    gauge(name, help, (signals) => of(signals, 'spark').map(({ s, f }) => ({ labels: { check: s.check }, value: pick(f) })));
  spark('supervisor_spark_master_alive', '1 when the standalone master reports status ALIVE.', (f) => (f.masterStatus === 'ALIVE' ? 1 : 0));
  spark('supervisor_spark_workers_alive', 'Alive workers registered with the master.', (f) => f.aliveWorkers);
  spark('supervisor_spark_workers_expected', 'Workers the config expects.', (f) => f.expectedWorkers);
  gauge('supervisor_spark_app_up', '1 when an expected application is RUNNING on the master.', function* (signals) {
    for (const { s, f } of of(signals, 'spark')) for (const a of f.expectedApps) yield { labels: { check: s.check, app: a.name }, value: a.running ? 1 : 0 };
  });
  gauge('supervisor_spark_app_duration_seconds', 'How long an application has been running.', function* (signals) {
    for (const { s, f } of of(signals, 'spark')) for (const a of f.apps) yield { labels: { check: s.check, app: a.name, app_id: a.id }, value: a.durationSeconds };
  });
  const query = (name: string, help: string, pick: (q: NonNullable<Extract<NonNullable<Signal['facts']>, { kind: 'spark' }>['queries']>[number]) => number | null): void =>
    gauge(name, help, function* (signals) {
      for (const { s, f } of of(signals, 'spark'))
        for (const q of f.queries ?? []) {
          const v = pick(q);
          if (v !== null) yield { labels: { check: s.check, query: q.name }, value: v };
        }
    });
  query('supervisor_spark_streaming_input_rows_per_second', 'Input rate of a Structured Streaming query.', (q) => q.inputRowsPerSecond);
  query('supervisor_spark_streaming_processed_rows_per_second', 'Processing rate of a Structured Streaming query.', (q) => q.processedRowsPerSecond);
  query('supervisor_spark_streaming_last_progress_age_seconds', 'Seconds since the query last reported progress.', (q) => q.lastProgressAgeSeconds);
}
