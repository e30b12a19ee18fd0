import type { Registry } from 'prom-client';
import { statusRank, type LagStatus, type Signal } from '../protocol';
import { PrefixCache, bytesOf, type ByteWriter } from './byte-writer';
import { escapeLabel, registerSnapshotGauge, writeValue, type Sample } from './snapshot-gauge';

/** Numeric codes of Burrow's consumer-group states (`supervisor_kafka_consumer_group_status`). */
export const LAG_STATUS_CODE: Record<LagStatus, number> = { OK: 0, WARN: 1, STALL: 2, STOP: 3, REWIND: 4, ERR: 5, NOTFOUND: 6 };

export interface SignalMetricsParams {
  registry: Registry;
  /**
   * The latest signal per key, read at scrape time: the daemon passes the reader of its view of
   * `state$` (src/wiring/state-view.ts), so the gauges follow the stream, not a variable of theirs.
   */
  latest: () => Iterable<Signal>;
  now?: () => number;
}

/**
 * Every signal-derived gauge. Point-in-time values are read from the latest state at scrape
 * time; ages (freshness, time since progress) are computed against the scrape's clock so they
 * keep growing between probe runs.
 */
type Kind = NonNullable<Signal['facts']>['kind'];
type FactsOf<K extends Kind> = Extract<NonNullable<Signal['facts']>, { kind: K }>;

export function registerSignalMetrics({ registry, latest, now = Date.now }: SignalMetricsParams): void {
  /** Samples of one signal: rendered once per probe result, joined at every scrape. */
  const perSignal = (name: string, help: string, samples: (s: Signal) => Iterable<Sample>): void => registerSnapshotGauge<Signal>(registry, { name, help, items: latest, samples });
  /** Samples of the signals with one kind of facts, rendered once per probe result. */
  const perFacts = <K extends Kind>(
    kind: K,
    name: string,
    help: string,
    samples: (f: FactsOf<K>, s: Signal) => Iterable<Sample>,
    /** the same lines as `samples`, written directly (see SnapshotGaugeParams.write) */
    write?: (f: FactsOf<K>, name: string, w: ByteWriter) => void,
  ): void =>
    registerSnapshotGauge<Signal>(registry, {
      name,
      help,
      items: function* () {
        for (const s of latest()) if (s.facts?.kind === kind) yield s;
      },
      samples: (s) => samples(s.facts as FactsOf<K>, s),
      ...(write ? { write: (s: Signal, n: string, w: ByteWriter) => write(s.facts as FactsOf<K>, n, w) } : {}),
    });
  /** Samples computed from all signals at every scrape (values that depend on the scrape's clock or on several signals). */
  const everyScrape = <K extends Kind>(kind: K, name: string, help: string, collect: (facts: Array<{ s: Signal; f: FactsOf<K> }>) => Iterable<Sample>): void =>
    registerSnapshotGauge(registry, {
      name,
      help,
      collect: () => collect([...latest()].flatMap((s) => (s.facts?.kind === kind ? [{ s, f: s.facts as FactsOf<K> }] : []))),
    });
  const one = (labels: Sample['labels'], value: number | null): Sample[] => (value === null ? [] : [{ labels, value }]);

  // --- every check
  const checkLabels = (s: Signal) => ({ check: s.check, kind: s.kind, target: s.target });
  perSignal('supervisor_check_up', '1 when the check could run and get an answer, 0 when its status is unknown.', (s) => one(checkLabels(s), s.status === 'unknown' ? 0 : 1));
  perSignal('supervisor_check_status', 'Check status: 0 ok, 1 warn, 2 unknown, 3 crit.', (s) => one(checkLabels(s), statusRank(s.status)));
  perSignal('supervisor_check_duration_seconds', 'How long the last run of the check took.', (s) => one(checkLabels(s), s.durationMs / 1000));
  perSignal('supervisor_check_last_run_timestamp_seconds', 'When the check last finished (Unix time).', (s) => one(checkLabels(s), s.observedAt / 1000));

  // --- Kafka cluster
  const kafka = (name: string, help: string, pick: (f: FactsOf<'kafka_cluster'>) => number): void =>
    perFacts('kafka_cluster', name, help, (f, s) => one({ check: s.check }, pick(f)));
  kafka('supervisor_kafka_brokers', 'Brokers in the cluster metadata.', (f) => f.brokers);
  kafka('supervisor_kafka_brokers_expected', 'Brokers the config expects.', (f) => f.expectedBrokers);
  kafka('supervisor_kafka_controller_present', '1 when the cluster reports an active controller.', (f) => (f.controllerId === null ? 0 : 1));
  kafka('supervisor_kafka_partitions', 'Partitions of the watched topics.', (f) => f.partitions);
  kafka('supervisor_kafka_partitions_offline', 'Partitions without a leader.', (f) => f.offlinePartitions);
  kafka('supervisor_kafka_partitions_under_replicated', 'Partitions with fewer in-sync replicas than replicas.', (f) => f.underReplicatedPartitions);
  kafka('supervisor_kafka_topics_missing', 'Required topics that do not exist.', (f) => f.missingTopics.length);

  // --- consumer lag
  perFacts('consumer_lag', 'supervisor_kafka_consumer_group_lag_messages', 'Total lag of a consumer group, in messages (groups that never committed are absent).', (f) =>
    one({ group: f.group }, f.partitions.some((p) => p.lag !== null) ? f.totalLag : null),
  );
  perFacts('consumer_lag', 'supervisor_kafka_consumer_group_lag_seconds', 'Largest estimated time lag of a consumer group over its partitions.', (f) =>
    one({ group: f.group }, f.maxLagSeconds),
  );
  perFacts(
    'consumer_lag',
    'supervisor_kafka_consumer_group_status',
    'Burrow status of a consumer group: 0 OK, 1 WARN, 2 STALL, 3 STOP, 4 REWIND, 5 ERR, 6 NOTFOUND (never committed).',
    (f) => one({ group: f.group }, LAG_STATUS_CODE[f.status]),
  );
  // Three series per partition (600,000 at 10,000 groups × 20 partitions): their lines are written
  // as bytes straight from the facts, the group's and topic's label text escaped and encoded once
  // per metric and kept while the group is watched, not once a line.
  const CLOSE_LABELS = bytesOf('"} ');
  // one label prefix per group and topic for the three metrics (each writes its name before it)
  const prefixes = new PrefixCache((group, topic) => `{group="${escapeLabel(group)}",topic="${escapeLabel(topic)}",partition="`);
  const partition = (name: string, help: string, pick: (p: FactsOf<'consumer_lag'>['partitions'][number]) => number | null): void => {
    const nameBytes = bytesOf(name);
    perFacts(
      'consumer_lag',
      name,
      help,
      function* (f) {
        for (const p of f.partitions) {
          const value = pick(p);
          if (value !== null) yield { labels: { group: f.group, topic: p.topic, partition: p.partition }, value };
        }
      },
      (f, _metric, w) => {
        let topic: string | undefined;
        let prefix: Buffer | undefined;
        for (const p of f.partitions) {
          const value = pick(p);
          if (value === null) continue;
          if (p.topic !== topic) {
            topic = p.topic;
            prefix = prefixes.get(f.group, topic);
          }
          w.bytes(nameBytes).bytes(prefix!).number(p.partition).bytes(CLOSE_LABELS);
          writeValue(w, value);
          w.newline();
        }
      },
    );
  };
  partition('supervisor_kafka_consumer_lag_messages', 'Lag of a consumer group on one partition, in messages.', (p) => p.lag);
  partition('supervisor_kafka_consumer_lag_seconds', 'Estimated time lag of a consumer group on one partition (interpolated from end-offset history).', (p) => p.lagSeconds);
  partition('supervisor_kafka_consumer_committed_offset', 'Last committed offset of a consumer group on one partition.', (p) => p.committedOffset);
  // one series per partition however many groups read it: deduplicated across signals at every scrape
  // (seen per topic as partition numbers: no key string per group × partition at every scrape)
  everyScrape('consumer_lag', 'supervisor_kafka_partition_end_offset', 'End (high-water) offset of a partition.', function* (facts) {
    const seen = new Map<string, Set<number>>();
    for (const { f } of facts)
      for (const p of f.partitions) {
        let partitions = seen.get(p.topic);
        if (!partitions) seen.set(p.topic, (partitions = new Set()));
        if (partitions.has(p.partition)) continue;
        partitions.add(p.partition);
        yield { labels: { topic: p.topic, partition: p.partition }, value: p.endOffset };
      }
  });

  // --- schema registry
  perFacts('schema_registry', 'supervisor_schema_registry_up', '1 when the schema registry answered.', (f, s) => one({ check: s.check }, f.reachable ? 1 : 0));
  perFacts('schema_registry', 'supervisor_schema_registry_subject_version', 'Latest version of a required subject (absent when the subject is missing).', (f, s) =>
    f.subjects.flatMap((sub) => one({ check: s.check, subject: sub.subject }, sub.latestVersion)),
  );
  perFacts('schema_registry', 'supervisor_schema_registry_subject_missing', '1 when a required subject does not exist.', (f, s) =>
    f.subjects.flatMap((sub) => one({ check: s.check, subject: sub.subject }, sub.exists ? 0 : 1)),
  );
  perFacts('schema_registry', 'supervisor_topic_event_age_seconds', 'Age of the newest record of a topic by its event-time field (decoded through the registry).', (f, s) =>
    Object.entries(f.eventAgeSeconds ?? {}).flatMap(([topic, age]) => one({ check: s.check, topic }, age)),
  );

  // --- Delta tables
  const delta = (name: string, help: string, pick: (f: FactsOf<'delta_freshness'>) => number | null): void =>
    perFacts('delta_freshness', name, help, (f, s) => one({ check: s.check, table: f.table }, pick(f)));
  delta('supervisor_delta_table_version', 'Newest version of the Delta table log.', (f) => f.version);
  delta('supervisor_delta_last_commit_timestamp_seconds', 'Time of the newest commit of any kind (Unix time).', (f) => (f.lastCommitAt === null ? null : f.lastCommitAt / 1000));
  delta('supervisor_delta_last_data_change_timestamp_seconds', 'Time of the newest data-changing commit (Unix time).', (f) =>
    f.lastDataChangeAt === null ? null : f.lastDataChangeAt / 1000,
  );
  // an age keeps growing between probe runs: computed against the scrape's clock
  everyScrape('delta_freshness', 'supervisor_delta_freshness_seconds', 'Age of the newest data-changing commit at scrape time.', (facts) =>
    facts.flatMap(({ s, f }) => one({ check: s.check, table: f.table }, f.lastDataChangeAt === null ? null : Math.max(0, (now() - f.lastDataChangeAt) / 1000))),
  );
  delta('supervisor_delta_freshness_threshold_seconds', 'Maximum allowed age of the newest data-changing commit.', (f) => f.thresholdSeconds);
  delta('supervisor_delta_check_requests', 'Storage requests the last check made (budget: 3).', (f) => f.requests);

  // --- Spark
  const spark = (name: string, help: string, pick: (f: FactsOf<'spark'>) => number): void => perFacts('spark', name, help, (f, s) => one({ check: s.check }, pick(f)));
  spark('supervisor_spark_master_alive', '1 when the standalone master reports status ALIVE.', (f) => (f.masterStatus === 'ALIVE' ? 1 : 0));
  spark('supervisor_spark_workers_alive', 'Alive workers registered with the master.', (f) => f.aliveWorkers);
  spark('supervisor_spark_workers_expected', 'Workers the config expects.', (f) => f.expectedWorkers);
  perFacts('spark', 'supervisor_spark_app_up', '1 when an expected application is RUNNING on the master.', (f, s) =>
    f.expectedApps.flatMap((a) => one({ check: s.check, app: a.name }, a.running ? 1 : 0)),
  );
  perFacts('spark', 'supervisor_spark_app_duration_seconds', 'How long an application has been running.', (f, s) =>
    f.apps.flatMap((a) => one({ check: s.check, app: a.name, app_id: a.id }, a.durationSeconds)),
  );
  const query = (name: string, help: string, pick: (q: NonNullable<FactsOf<'spark'>['queries']>[number]) => number | null): void =>
    perFacts('spark', name, help, (f, s) => (f.queries ?? []).flatMap((q) => one({ check: s.check, query: q.name }, pick(q))));
  query('supervisor_spark_streaming_input_rows_per_second', 'Input rate of a Structured Streaming query.', (q) => q.inputRowsPerSecond);
  query('supervisor_spark_streaming_processed_rows_per_second', 'Processing rate of a Structured Streaming query.', (q) => q.processedRowsPerSecond);
  query('supervisor_spark_streaming_last_progress_age_seconds', 'Seconds since the query last reported progress.', (q) => q.lastProgressAgeSeconds);
}
