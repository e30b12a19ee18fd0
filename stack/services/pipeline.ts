/**
 * The supervised reference pipeline's Spark side: submits `stack/pipeline/spark/harmful_domains_stream.py`
 * (appName `harmful-domains-streaming`) to the stack's standalone master in client mode, so the
 * driver (and its UI with the Prometheus servlet on the driver UI port) is this recorded process
 * and `npm run stack -- down` stops it. Ready once the master lists the app as RUNNING in
 * `/json/` `activeapps` and the driver's `/metrics/prometheus` answers.
 *
 * Jars: the stack's job jars (stack/spark.ts: Kafka source, Delta, hadoop-aws) plus spark-avro
 * for `from_avro`, copied once from Maven into `.stack/opt/pipeline-jars-<spark>/`, on the
 * driver's and executors' class paths (same machine, nothing copied); later starts need no network. Optional: started only when named (`npm run stack -- up pipeline`),
 * after Kafka, S3 and a Spark worker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { endpoints, ports, secured } from '../endpoints';
import { mavenCopyArtifact, once } from '../install';
import { dirs, ensureDir, REPO_ROOT } from '../paths';
import { httpJson, httpOk } from '../probes';
import type { SpawnSpec } from '../proc';
import { ensureStackTls } from '../tls';
import { SPARK_VERSION, sparkJars, sparkSubmitSpec } from '../spark';
import type { MasterJson } from './spark-master';
import type { ServiceDef } from './types';

export const PIPELINE_APP_NAME = 'harmful-domains-streaming';
export const PIPELINE_TOPIC = 'harmful-domains';
export const JOB_FILE = path.join(REPO_ROOT, 'stack/pipeline/spark/harmful_domains_stream.py');

const pipelineJarsDir = () => path.join(dirs.opt, `pipeline-jars-${SPARK_VERSION}`);
export const sparkAvroJar = () => path.join(pipelineJarsDir(), `spark-avro_2.13-${SPARK_VERSION}.jar`);

export interface PipelineJobOptions {
  appName?: string;
  topic?: string;
  bronzePath?: string;
  silverPath?: string;
  goldPath?: string;
  checkpointRoot?: string;
  triggerSeconds?: number;
  /** driver UI port (Prometheus servlet at /metrics/prometheus) */
  uiPort?: number;
  progressFile?: string;
  driverMemory?: string;
  executorMemory?: string;
  /** default: the stack's master */
  master?: string;
  /**
   * Read Kafka through the stack's SASL_SSL listener (SCRAM-SHA-512, the stack's CA) instead of
   * the plain one, with the same KAFKA_* environment the supervisor hands the ingestion service.
   * Default: STACK_PIPELINE_SECURE=1 (what `npm run demo -- --secure` sets).
   */
  secure?: boolean;
}

/** The KAFKA_* environment of a client of the stack's SASL_SSL listener (src/shared/kafka-connection.ts names). */
export function secureKafkaEnv(): Record<string, string> {
  return {
    KAFKA_SERVERS: endpoints.kafkaSaslSslBrokers.join(','),
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: secured.kafkaUser,
    KAFKA_SASL_PASSWORD: secured.kafkaPassword,
    KAFKA_SSL_CA_FILE: ensureStackTls().caFile,
  };
}

/** Copies spark-avro (its own dependencies, Avro itself, ship with Spark) once. */
export async function installPipelineJars(log: { info(m: string): void; warn(m: string): void }): Promise<void> {
  await once(`pipeline-jars-${SPARK_VERSION}`, log, `spark-avro_2.13 ${SPARK_VERSION} from Maven Central`, async () => {
    await mavenCopyArtifact('pipeline-jars', { groupId: 'org.apache.spark', artifactId: 'spark-avro_2.13', version: SPARK_VERSION }, pipelineJarsDir());
  });
}

/**
 * The spark-submit command for the streaming job. S3 keys reach the job through the stack's
 * spark-defaults.conf and the environment, never argv (which `ps` and the stack log show).
 * Exported so tests run the same job against fresh tables, topics and ports.
 */
export function pipelineSubmitSpec(opts: PipelineJobOptions = {}): SpawnSpec {
  const appName = opts.appName ?? PIPELINE_APP_NAME;
  const jars = [...sparkJars(), sparkAvroJar()];
  const spec = sparkSubmitSpec({
    script: JOB_FILE,
    name: appName,
    master: opts.master ?? endpoints.sparkMaster,
    withJars: false,
    cwd: REPO_ROOT,
    conf: {
      // Everything runs on this machine: put the jars on the driver's and executors' class paths
      // instead of `spark.jars`, which would copy them (600 MB with the AWS SDK bundle) into every
      // executor's work folder and make the first task wait for it.
      'spark.driver.extraClassPath': jars.join(':'),
      'spark.executor.extraClassPath': jars.join(':'),
      'spark.submit.deployMode': 'client',
      'spark.driver.memory': opts.driverMemory ?? process.env.STACK_PIPELINE_DRIVER_MEMORY ?? '768m',
      'spark.executor.memory': opts.executorMemory ?? process.env.STACK_PIPELINE_EXECUTOR_MEMORY ?? '768m',
      'spark.cores.max': '1',
      'spark.executor.cores': '1',
      'spark.ui.port': String(opts.uiPort ?? ports.sparkDriverUi),
      'spark.ui.prometheus.enabled': 'true',
      'spark.sql.streaming.metricsEnabled': 'true',
      'spark.metrics.conf.*.sink.prometheusServlet.class': 'org.apache.spark.metrics.sink.PrometheusServlet',
      'spark.metrics.conf.*.sink.prometheusServlet.path': '/metrics/prometheus',
      'spark.metrics.namespace': 'harmful_domains',
      'spark.sql.shuffle.partitions': '2',
      'spark.default.parallelism': '2',
      'spark.sql.streaming.minBatchesToRetain': '20',
      'spark.databricks.delta.snapshotPartitions': '2',
      'spark.ui.retainedJobs': '200',
      'spark.ui.retainedStages': '200',
      'spark.sql.ui.retainedExecutions': '50',
      'spark.streaming.ui.retainedBatches': '100',
    },
    env: {
      KAFKA_SERVERS: endpoints.kafkaBrokers.join(','),
      ...((opts.secure ?? process.env.STACK_PIPELINE_SECURE === '1') ? secureKafkaEnv() : {}),
      S3_ENDPOINT: endpoints.s3Endpoint,
      AWS_ACCESS_KEY_ID: endpoints.s3AccessKeyId,
      AWS_SECRET_ACCESS_KEY: endpoints.s3SecretAccessKey,
      AWS_REGION: endpoints.s3Region,
      PIPELINE_TOPIC: opts.topic ?? PIPELINE_TOPIC,
      BRONZE_PATH: opts.bronzePath ?? `s3a://${endpoints.s3Bucket}/bronze`,
      SILVER_PATH: opts.silverPath ?? `s3a://${endpoints.s3Bucket}/silver`,
      GOLD_PATH: opts.goldPath ?? `s3a://${endpoints.s3Bucket}/gold`,
      CHECKPOINT_ROOT: opts.checkpointRoot ?? `s3a://${endpoints.s3Bucket}/_checkpoints`,
      TRIGGER_SECONDS: String(opts.triggerSeconds ?? 10),
      PROGRESS_FILE: opts.progressFile ?? path.join(dirs.run, 'pipeline-progress.json'),
      SPARK_APP_NAME: appName,
    },
  });
  // client mode: the driver's heap is fixed when spark-submit starts the JVM, so pass it as a flag too
  spec.args.unshift('--driver-memory', opts.driverMemory ?? process.env.STACK_PIPELINE_DRIVER_MEMORY ?? '768m');
  return spec;
}

/** The app of that name the master lists as active (RUNNING or WAITING), if any. */
export async function activeApp(appName = PIPELINE_APP_NAME): Promise<MasterJson['activeapps'][number] | undefined> {
  const json = await httpJson<MasterJson>(`${endpoints.sparkMasterUi}/json/`, 3000);
  return json?.activeapps?.find((a) => a.name === appName);
}

export const pipeline: ServiceDef = {
  name: 'pipeline',
  description: `reference pipeline: Spark Structured Streaming job "${PIPELINE_APP_NAME}" (Kafka → bronze/silver/gold Delta on S3)`,
  dependsOn: ['kafka', 's3', 'spark-worker'],
  optional: true,
  ports: () => [{ name: 'driver-ui', port: ports.sparkDriverUi }],
  endpoints: () => ({
    app: PIPELINE_APP_NAME,
    'driver ui': endpoints.sparkDriverUi,
    metrics: `${endpoints.sparkDriverUi}/metrics/prometheus`,
    tables: `s3a://${endpoints.s3Bucket}/{bronze,silver,gold}`,
  }),
  // cold JVM + the first micro-batches on 2 busy cores
  readyTimeoutMs: 240_000,

  async install({ log }) {
    if (!fs.existsSync(JOB_FILE)) throw new Error(`${JOB_FILE} is missing`);
    await installPipelineJars(log);
    ensureDir(dirs.run);
  },

  command: () => pipelineSubmitSpec(),

  async ready() {
    const app = await activeApp();
    if (app?.state !== 'RUNNING') return false;
    return httpOk(`${endpoints.sparkDriverUi}/metrics/prometheus`, 3000);
  },
};
