import { dataFreshnessTask } from '../../checks/delta-freshness';
import { kafkaHealthTask } from '../../checks/kafka-cluster';
import { createSchemaRegistryCheck } from '../../checks/schema-registry';
import { runOnce } from '../../streams/check-scheduler';
import { sparkJobTask } from '../../checks/spark';
import type { SupervisorConfig } from '../config/schema';
import { createBuiltinOperators, createSignalOperator } from '../engine/operators';
import type { LatestSignalsFn, NotifyFn, OperatorRegistry } from '../engine/operator';
import { SupervisorError } from '../protocol';
import { s3ConnectionOptions, schemaRegistryCheckDefaults, sparkConnectionOptions } from './check-options';
import { REPO_ROOT } from '../version';
import { kafkaEnvFor } from '../shared/kafka-connection';
import { kafkaConnectionSettings } from './check-options';

export interface CreateOperatorsParams {
  config: SupervisorConfig;
  notify?: NotifyFn;
  latestSignals?: LatestSignalsFn;
}

function requireString(params: Readonly<Record<string, unknown>>, key: string, task: string): string {
  const v = params[key];
  if (typeof v !== 'string' || v.trim() === '') throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `task ${task}: params.${key} must be a non-empty string`, { retryable: false });
  return v;
}

/**
 * Every operator a pipeline task can name: the engine's own (ingestion, command, notify,
 * collect_metrics, alert) and the seed's check operators, mapped onto the check modules with
 * the seed's parameter names.
 */
export function createOperators({ config, notify, latestSignals }: CreateOperatorsParams): OperatorRegistry {
  // keys only when given (none = the SDK's default credential chain), session token, TLS files
  const s3Options = s3ConnectionOptions(config.connections);
  // the one Kafka connection definition: the kafka_health task connects with it, and the
  // ingestion service gets it as KAFKA_* environment variables (kafkaEnvFor)
  const kafka = kafkaConnectionSettings(config.connections);
  const kafkaConnection = {
    clientId: kafka.clientId,
    ...(kafka.ssl !== undefined ? { ssl: kafka.ssl } : {}),
    ...(kafka.sasl !== undefined ? { sasl: kafka.sasl } : {}),
    connectionTimeout: `${kafka.connectionTimeout}ms`,
    requestTimeout: `${kafka.requestTimeout}ms`,
  };
  return {
    ...createBuiltinOperators({ repoRoot: REPO_ROOT, kafkaEnv: kafkaEnvFor(kafka), ...(notify ? { notify } : {}), ...(latestSignals ? { latestSignals } : {}) }),
    // KafkaHealthCheckOperator(kafka_servers, topics)
    kafka_health: createSignalOperator((ctx) =>
      kafkaHealthTask(
        {
          kafka_servers: (ctx.params.kafka_servers as string | string[] | undefined) ?? config.connections.kafka.brokers,
          ...(ctx.params.topics !== undefined ? { topics: ctx.params.topics as string | string[] } : {}),
          ...(typeof ctx.params.expected_brokers === 'number' ? { expected_brokers: ctx.params.expected_brokers } : {}),
          connection: kafkaConnection,
        },
        { signal: ctx.signal, now: () => ctx.now(), logger: ctx.logger, name: ctx.taskId },
      ),
    ),
    // DataFreshnessCheckOperator(delta_path, max_age_minutes)
    data_freshness: createSignalOperator((ctx) => {
      const maxAge = ctx.params.max_age_minutes;
      if (typeof maxAge !== 'number' || !(maxAge > 0))
        throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `task ${ctx.taskId}: params.max_age_minutes must be a positive number`, { retryable: false });
      return dataFreshnessTask(
        { delta_path: requireString(ctx.params, 'delta_path', ctx.taskId), max_age_minutes: maxAge, s3: s3Options, name: ctx.taskId, logger: ctx.logger },
        { signal: ctx.signal, now: () => ctx.now() },
      );
    }),
    // SparkJobCheckOperator(spark_master, job_name)
    spark_job: createSignalOperator((ctx) =>
      sparkJobTask(
        {
          spark_master: typeof ctx.params.spark_master === 'string' ? ctx.params.spark_master : config.connections.spark.master_ui,
          job_name: typeof ctx.params.job_name === 'string' ? ctx.params.job_name : null,
          connection: sparkConnectionOptions(config.connections),
          ...(typeof ctx.params.expected_workers === 'number' ? { expected_workers: ctx.params.expected_workers } : {}),
          name: ctx.taskId,
          logger: ctx.logger,
        },
        { signal: ctx.signal, now: () => ctx.now() },
      ),
    ),
    // schema_registry(topics): every topic has a value subject
    schema_registry: createSignalOperator(async (ctx) => {
      const topics =
        ctx.params.topics === undefined
          ? []
          : Array.isArray(ctx.params.topics)
            ? ctx.params.topics.map(String)
            : (typeof ctx.params.topics === 'string' ? ctx.params.topics : JSON.stringify(ctx.params.topics)).split(',').map((t) => t.trim());
      const registry = config.connections.schema_registry;
      const probe = createSchemaRegistryCheck({
        name: ctx.taskId,
        logger: ctx.logger,
        options: {
          // auth, bearer token, headers and TLS of connections.schema_registry
          ...schemaRegistryCheckDefaults(config.connections),
          url: typeof ctx.params.url === 'string' ? ctx.params.url : registry.url,
          topics,
        },
      });
      try {
        return await runOnce(probe, { signal: ctx.signal });
      } finally {
        await probe.close?.();
      }
    }),
  };
}
