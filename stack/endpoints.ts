/**
 * Where the local stack's services listen. Every port can be moved with the environment
 * variable beside it; tests, the demo and the default config all read these.
 */
function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}=${raw} is not a TCP port (1-65535)`);
  return n;
}

export const HOST = '127.0.0.1';

export const ports = {
  kafka: port('STACK_KAFKA_PORT', 9092),
  kafkaController: port('STACK_KAFKA_CONTROLLER_PORT', 9094),
  schemaRegistry: port('STACK_SCHEMA_REGISTRY_PORT', 8081),
  s3: port('STACK_S3_PORT', 9000),
  sparkMaster: port('STACK_SPARK_MASTER_PORT', 7077),
  sparkMasterUi: port('STACK_SPARK_MASTER_UI_PORT', 8080),
  sparkWorkerUi: port('STACK_SPARK_WORKER_UI_PORT', 8082),
  sparkDriverUi: port('STACK_SPARK_DRIVER_UI_PORT', 4040),
  prometheus: port('STACK_PROMETHEUS_PORT', 9090),
  alertmanager: port('STACK_ALERTMANAGER_PORT', 9093),
  smtp: port('STACK_SMTP_PORT', 1025),
  smtpApi: port('STACK_SMTP_API_PORT', 8025),
  supervisor: port('SUPERVISOR_PORT', 8090),
} as const;

export const endpoints = {
  kafkaBrokers: [`${HOST}:${ports.kafka}`],
  schemaRegistryUrl: `http://${HOST}:${ports.schemaRegistry}/apis/ccompat/v7`,
  s3Endpoint: `http://${HOST}:${ports.s3}`,
  s3Region: 'us-east-1',
  s3AccessKeyId: process.env.STACK_S3_ACCESS_KEY ?? 'local-access',
  s3SecretAccessKey: process.env.STACK_S3_SECRET_KEY ?? 'local-secret-key',
  s3Bucket: 'delta-lake',
  sparkMaster: `spark://${HOST}:${ports.sparkMaster}`,
  sparkMasterUi: `http://${HOST}:${ports.sparkMasterUi}`,
  sparkDriverUi: `http://${HOST}:${ports.sparkDriverUi}`,
  prometheusUrl: `http://${HOST}:${ports.prometheus}`,
  alertmanagerUrl: `http://${HOST}:${ports.alertmanager}`,
  smtpHost: HOST,
  smtpPort: ports.smtp,
  smtpApiUrl: `http://${HOST}:${ports.smtpApi}`,
  supervisorUrl: `http://${HOST}:${ports.supervisor}`,
} as const;
