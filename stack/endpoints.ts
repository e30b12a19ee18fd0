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
  /** SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) with the stack's CA */
  kafkaSaslSsl: port('STACK_KAFKA_SASL_SSL_PORT', 9095),
  /** SSL with client certificates required (mutual TLS) */
  kafkaMtls: port('STACK_KAFKA_MTLS_PORT', 9096),
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
  oidc: port('STACK_OIDC_PORT', 8086),
  /** the HTTPS edge (nginx): TLS with the stack's CA in front of the HTTP services */
  edgeRegistryBasic: port('STACK_EDGE_REGISTRY_BASIC_PORT', 8443),
  edgeRegistryBearer: port('STACK_EDGE_REGISTRY_BEARER_PORT', 8444),
  edgeS3: port('STACK_EDGE_S3_PORT', 9443),
  edgeSparkMaster: port('STACK_EDGE_SPARK_MASTER_PORT', 8483),
  edgeSparkDriver: port('STACK_EDGE_SPARK_DRIVER_PORT', 4443),
  /** the stack's private PostgreSQL cluster (not the system's 5432) */
  postgres: port('STACK_POSTGRES_PORT', 5442),
} as const;

/**
 * The secured edge's credentials. They guard loopback test services only; each can be moved
 * with the variable beside it.
 */
export const secured = {
  kafkaUser: process.env.STACK_KAFKA_SASL_USER ?? 'supervisor',
  kafkaPassword: process.env.STACK_KAFKA_SASL_PASSWORD ?? 'supervisor-secret',
  /** the OIDC client of the stack's token endpoint (OAUTHBEARER) */
  oidcClientId: process.env.STACK_OIDC_CLIENT_ID ?? 'supervisor',
  oidcClientSecret: process.env.STACK_OIDC_CLIENT_SECRET ?? 'supervisor-oidc-secret',
  registryUser: process.env.STACK_REGISTRY_USER ?? 'registry',
  registryPassword: process.env.STACK_REGISTRY_PASSWORD ?? 'registry-secret',
  registryToken: process.env.STACK_REGISTRY_TOKEN ?? 'stack-registry-token',
  sparkUser: process.env.STACK_SPARK_USER ?? 'spark',
  sparkPassword: process.env.STACK_SPARK_PASSWORD ?? 'spark-secret',
  sparkApiKey: process.env.STACK_SPARK_API_KEY ?? 'stack-spark-api-key',
} as const;

export const endpoints = {
  kafkaBrokers: [`${HOST}:${ports.kafka}`],
  kafkaSaslSslBrokers: [`${HOST}:${ports.kafkaSaslSsl}`],
  kafkaMtlsBrokers: [`${HOST}:${ports.kafkaMtls}`],
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
  oidcTokenUrl: `http://${HOST}:${ports.oidc}/token`,
  /** registry behind TLS + HTTP basic auth (secured.registryUser / registryPassword) */
  edgeRegistryBasicUrl: `https://${HOST}:${ports.edgeRegistryBasic}/apis/ccompat/v7`,
  /** registry behind TLS + a bearer token (secured.registryToken) */
  edgeRegistryBearerUrl: `https://${HOST}:${ports.edgeRegistryBearer}/apis/ccompat/v7`,
  /** S3 behind TLS only (SigV4 is its auth) */
  edgeS3Endpoint: `https://${HOST}:${ports.edgeS3}`,
  /** Spark master UI behind TLS + basic auth (secured.sparkUser / sparkPassword) */
  edgeSparkMasterUi: `https://${HOST}:${ports.edgeSparkMaster}`,
  /** Spark driver UI/metrics behind TLS + an `X-Api-Key` header (secured.sparkApiKey) */
  edgeSparkDriverUi: `https://${HOST}:${ports.edgeSparkDriver}`,
  /**
   * PostgreSQL (stack/services/postgres.ts): TLS with the stack's server certificate (verify
   * against stack/tls.ts's CA, server name localhost or 127.0.0.1), scram-sha-256 logins.
   * `user` owns `database` and may create databases; `adminUser` is the cluster's superuser.
   */
  postgres: {
    host: HOST,
    port: ports.postgres,
    database: process.env.STACK_POSTGRES_DB ?? 'supervisor',
    user: process.env.STACK_POSTGRES_USER ?? 'supervisor',
    password: process.env.STACK_POSTGRES_PASSWORD ?? 'supervisor-pg-secret',
    adminUser: 'postgres',
    adminPassword: process.env.STACK_POSTGRES_ADMIN_PASSWORD ?? 'stack-pg-admin-secret',
  },
} as const;
