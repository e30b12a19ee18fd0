/**
 * Kafka cluster health: brokers seen vs expected, controller present, required topics exist,
 * partitions without a leader (offline), under-replicated partitions. One signal per run.
 *
 * Status: crit when no broker answers, no controller is known, a required topic is missing or
 * a partition has no leader; warn when fewer brokers than expected answer or a partition is
 * under-replicated (configurable). An unreachable cluster is what this check exists to report,
 * so it is `crit` with SUP_ERR_KAFKA_UNREACHABLE — not `unknown`.
 */
import { z } from 'zod';
import {
  SupervisorError,
  describeError,
  worstStatus,
  type CheckProbe,
  type Clock,
  type KafkaClusterFacts,
  type Logger,
  type ProbeContext,
  type Signal,
  type Status,
} from '../src/protocol';
import { silentLogger } from '../src/shared/logger';
import { createKafkaClient, createManagedAdmin, describeProblem, kafkaConnectionShape, resolveCheckConnection, type KafkaAdminApi } from './kafka-client';

export const kafkaClusterOptionsSchema = z.strictObject({
  ...kafkaConnectionShape,
  /** How many brokers the cluster should have. */
  expectedBrokers: z.number().int().min(1).default(1),
  /** Topics that must exist. */
  topics: z.array(z.string().min(1)).default([]),
  /** Status when a partition has fewer in-sync replicas than replicas. */
  underReplicatedStatus: z.enum(['warn', 'crit']).default('warn'),
  /** Status when fewer brokers than expected answer (none answering is always crit). */
  missingBrokerStatus: z.enum(['warn', 'crit']).default('warn'),
});
export type KafkaClusterOptionsInput = z.input<typeof kafkaClusterOptionsSchema>;
export type KafkaClusterOptions = z.output<typeof kafkaClusterOptionsSchema>;

export interface KafkaClusterCheckParams {
  name: string;
  /** Validated options (or raw ones: they are parsed again, cheaply). */
  options: KafkaClusterOptionsInput | KafkaClusterOptions;
  logger?: Logger;
  /** Accepted for symmetry with the other checks; time comes from the probe context. */
  clock?: Clock;
  intervalMs?: number;
  timeoutMs?: number;
  /** Replaces the kafkajs admin (unit tests). */
  createAdmin?: () => KafkaAdminApi;
}

export const KAFKA_CLUSTER_DEFAULT_INTERVAL_MS = 15_000;
export const KAFKA_CLUSTER_DEFAULT_TIMEOUT_MS = 10_000;

export function createKafkaClusterCheck(params: KafkaClusterCheckParams): CheckProbe {
  const options = parseOptions(params.name, params.options);
  const logger = (params.logger ?? silentLogger).child({ component: 'checks', name: params.name });
  // TLS and secret files are read once, here; an OAUTHBEARER token is cached across runs
  const resolved = resolveCheckConnection(options, params.name);
  const createAdmin = params.createAdmin ?? ((): KafkaAdminApi => createKafkaClient(resolved, logger.child({ component: 'kafkajs' })).admin());
  const admin = createManagedAdmin({ name: params.name, brokers: options.brokers, connection: resolved.connection, createAdmin, logger });
  const target = options.brokers.join(',');

  return {
    name: params.name,
    kind: 'kafka_cluster',
    intervalMs: params.intervalMs ?? KAFKA_CLUSTER_DEFAULT_INTERVAL_MS,
    timeoutMs: params.timeoutMs ?? KAFKA_CLUSTER_DEFAULT_TIMEOUT_MS,
    async probe(ctx: ProbeContext): Promise<Signal[]> {
      const startedAt = ctx.now();
      try {
        const observed = await admin.use(async (a) => {
          const cluster = await a.describeCluster();
          const metadata = await a.fetchTopicMetadata();
          return { cluster, metadata };
        }, ctx.signal);
        const facts = evaluateCluster(observed.cluster, observed.metadata.topics, options);
        return [buildSignal(params.name, target, facts, options, observed.cluster.clusterId, startedAt, ctx.now())];
      } catch (err) {
        if (err instanceof SupervisorError && err.code === 'SUP_ERR_KAFKA_UNREACHABLE') {
          const facts: KafkaClusterFacts = {
            kind: 'kafka_cluster',
            brokers: 0,
            expectedBrokers: options.expectedBrokers,
            controllerId: null,
            topics: 0,
            missingTopics: [...options.topics],
            partitions: 0,
            offlinePartitions: 0,
            underReplicatedPartitions: 0,
          };
          const now = ctx.now();
          return [
            {
              check: params.name,
              kind: 'kafka_cluster',
              target,
              labels: {},
              status: 'crit',
              value: 0,
              unit: 'count',
              threshold: options.expectedBrokers,
              observedAt: now,
              durationMs: now - startedAt,
              summary: `Kafka unreachable at ${target}: ${err.message}`,
              facts,
              error: describeError(err),
            },
          ];
        }
        throw err;
      }
    },
    close: () => admin.close(),
  };
}

interface ClusterDescription {
  brokers: Array<{ nodeId: number }>;
  controller: number | null;
}

interface TopicMetadata {
  name: string;
  partitions: Array<{ partitionId: number; leader: number; replicas: number[]; isr: number[]; partitionErrorCode?: number }>;
}

/** Pure: turns metadata into facts. */
export function evaluateCluster(
  cluster: ClusterDescription,
  topics: readonly TopicMetadata[],
  options: Pick<KafkaClusterOptions, 'expectedBrokers' | 'topics'>,
): KafkaClusterFacts {
  const names = new Set(topics.map((t) => t.name));
  let partitions = 0;
  let offline = 0;
  let underReplicated = 0;
  for (const topic of topics) {
    for (const p of topic.partitions) {
      partitions += 1;
      // LEADER_NOT_AVAILABLE (5) or no leader id: nobody serves this partition.
      if (p.leader < 0 || p.partitionErrorCode === 5) offline += 1;
      else if (p.isr.length < p.replicas.length) underReplicated += 1;
    }
  }
  return {
    kind: 'kafka_cluster',
    brokers: cluster.brokers.length,
    expectedBrokers: options.expectedBrokers,
    controllerId: cluster.controller,
    topics: topics.length,
    missingTopics: options.topics.filter((t) => !names.has(t)),
    partitions,
    offlinePartitions: offline,
    underReplicatedPartitions: underReplicated,
  };
}

/** Pure: status and sentence from the facts. */
export function judgeCluster(
  facts: KafkaClusterFacts,
  options: Pick<KafkaClusterOptions, 'underReplicatedStatus' | 'missingBrokerStatus'>,
): { status: Status; problems: string[] } {
  const problems: Array<{ status: Status; text: string }> = [];
  if (facts.brokers === 0) problems.push({ status: 'crit', text: 'no broker in the cluster metadata' });
  else if (facts.brokers < facts.expectedBrokers) problems.push({ status: options.missingBrokerStatus, text: `${facts.brokers} of ${facts.expectedBrokers} brokers` });
  if (facts.controllerId === null) problems.push({ status: 'crit', text: 'no active controller' });
  if (facts.missingTopics.length > 0) problems.push({ status: 'crit', text: `missing topics: ${facts.missingTopics.join(', ')}` });
  if (facts.offlinePartitions > 0) problems.push({ status: 'crit', text: `${facts.offlinePartitions} partitions without a leader` });
  if (facts.underReplicatedPartitions > 0) problems.push({ status: options.underReplicatedStatus, text: `${facts.underReplicatedPartitions} under-replicated partitions` });
  return { status: worstStatus(problems.map((p) => p.status)), problems: problems.map((p) => p.text) };
}

function buildSignal(check: string, target: string, facts: KafkaClusterFacts, options: KafkaClusterOptions, clusterId: string, startedAt: number, now: number): Signal {
  const { status, problems } = judgeCluster(facts, options);
  const base = `${facts.brokers}/${facts.expectedBrokers} brokers, controller ${facts.controllerId ?? 'none'}, ${facts.topics} topics, ${facts.partitions} partitions`;
  return {
    check,
    kind: 'kafka_cluster',
    target,
    labels: {},
    status,
    value: facts.brokers,
    unit: 'count',
    threshold: facts.expectedBrokers,
    observedAt: now,
    durationMs: now - startedAt,
    summary: problems.length === 0 ? `Kafka ${clusterId || target} healthy: ${base}` : `Kafka ${clusterId || target}: ${problems.join('; ')} (${base})`,
    facts,
  };
}

function parseOptions(name: string, raw: unknown): KafkaClusterOptions {
  const parsed = kafkaClusterOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `check ${name}: invalid kafka_cluster options`, {
      where: `checks.${name}`,
      problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`),
    });
  }
  return Object.freeze(parsed.data);
}

/**
 * The seed's `KafkaHealthCheckOperator(kafka_servers, topics)` as a pipeline task: one run of
 * the cluster check. Returns the signal (the runner turns crit/unknown into a task failure);
 * never throws — a failure to run becomes `unknown` with the error.
 */
export interface KafkaHealthTaskParams {
  /** Bootstrap servers, comma-separated (`kafka:9092`) or a list. */
  kafka_servers: string | string[];
  /** Required topics (list or comma-separated). */
  topics?: string | string[];
  expected_brokers?: number;
  /** TLS, SASL, client id and timeouts (connections.kafka), for the brokers above. */
  connection?: Pick<KafkaClusterOptionsInput, 'ssl' | 'sasl' | 'clientId' | 'connectionTimeout' | 'requestTimeout'>;
}

export interface TaskContext {
  signal: AbortSignal;
  now?: () => number;
  logger?: Logger;
  /** Task name used as the signal's check name. */
  name?: string;
}

export async function kafkaHealthTask(params: KafkaHealthTaskParams, ctx: TaskContext): Promise<Signal> {
  const name = ctx.name ?? 'check_kafka_health';
  const now = ctx.now ?? ((): number => Date.now());
  const startedAt = now();
  let check: CheckProbe | null = null;
  try {
    const topics =
      params.topics === undefined
        ? []
        : Array.isArray(params.topics)
          ? params.topics
          : params.topics
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean);
    check = createKafkaClusterCheck({
      name,
      options: { ...params.connection, brokers: params.kafka_servers, topics, expectedBrokers: params.expected_brokers ?? 1 },
      ...(ctx.logger ? { logger: ctx.logger } : {}),
    });
    const [signal] = await check.probe({ signal: ctx.signal, now });
    if (!signal) throw new Error('the cluster check returned no signal');
    return signal;
  } catch (err) {
    const end = now();
    return {
      check: name,
      kind: 'kafka_cluster',
      target: Array.isArray(params.kafka_servers) ? params.kafka_servers.join(',') : String(params.kafka_servers),
      labels: {},
      status: 'unknown',
      observedAt: end,
      durationMs: end - startedAt,
      summary: `Kafka health check could not run: ${describeProblem(err)}`,
      error: { code: describeError(err, 'SUP_ERR_PROBE_FAILED').code, message: describeProblem(err) },
    };
  } finally {
    await check?.close?.();
  }
}
