/**
 * Reference ingestion service CLI (what `run_full_ingestion` runs):
 *
 *   npx tsx stack/pipeline/ingestion/cli.ts --config stack/pipeline/sources.yaml [--source NAME]
 *     --kafka-servers 127.0.0.1:9092 [--schema-registry URL] [--topic harmful-domains] [--run-id ID]
 *
 * Environment fallbacks: KAFKA_SERVERS (or KAFKA_BOOTSTRAP_SERVERS), SCHEMA_REGISTRY_URL, RUN_ID,
 * LOGICAL_DATE, LOG_LEVEL. Kafka security from the variables the supervisor's ingestion operator
 * sets (src/shared/kafka-connection.ts `kafkaEnvFor`): KAFKA_SECURITY_PROTOCOL
 * (PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL), KAFKA_SSL_CA_FILE / _CERT_FILE / _KEY_FILE /
 * _KEY_PASSWORD / _SERVERNAME, KAFKA_SASL_MECHANISM (PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 |
 * OAUTHBEARER), KAFKA_SASL_USERNAME / _PASSWORD, KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL /
 * _CLIENT_ID / _CLIENT_SECRET / _SCOPE / _EXTENSIONS / _CA_FILE.
 * Exit codes: 0 every source ingested; 1 some source failed (the others were ingested);
 * 2 usage or configuration error; 143/130 stopped by SIGTERM/SIGINT.
 * stdout: exactly one JSON summary line at the end. stderr: structured logs (pino).
 */
import { randomBytes } from 'node:crypto';
import { Command, CommanderError } from 'commander';
import pino from 'pino';
import { SupervisorError } from '../../../src/protocol';
import { kafkaSettingsFromEnv, resolveKafkaConnection } from '../../../src/shared/kafka-connection';
import { createDomainProducer } from './producer';
import { runIngestion, type RunSummary } from './run';
import { loadSources, selectSources, SourcesConfigError } from './sources';

export const EXIT = { OK: 0, SOURCE_FAILED: 1, USAGE: 2, SIGINT: 130, SIGTERM: 143 } as const;

const DEFAULT_TOPIC = 'harmful-domains';
const DEFAULT_REGISTRY = 'http://127.0.0.1:8081/apis/ccompat/v7';

class UsageError extends Error {}

interface Options {
  config: string;
  source?: string;
  kafkaServers?: string;
  schemaRegistry?: string;
  topic?: string;
  runId?: string;
  logicalDate?: string;
}

function generatedRunId(): string {
  return `manual__${new Date().toISOString().replace(/[:.]/g, '-')}__${randomBytes(3).toString('hex')}`;
}

function parseBrokers(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') throw new UsageError('--kafka-servers (or KAFKA_SERVERS) is required, e.g. 127.0.0.1:9092');
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  for (const b of brokers) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(b)) throw new UsageError(`--kafka-servers: "${b}" is not host:port`);
  }
  return brokers;
}

function parseRegistry(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    return raw.replace(/\/+$/, '');
  } catch {
    throw new UsageError(`--schema-registry: "${raw}" is not an http(s) URL`);
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const logger = pino({ name: 'ingestion', level: env.LOG_LEVEL ?? 'info', base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
  const started = Date.now();
  const summary: RunSummary = { ok: false, runId: env.RUN_ID ?? '', topic: DEFAULT_TOPIC, sources: {}, durationMs: 0 };
  const print = (s: RunSummary) => process.stdout.write(JSON.stringify(s) + '\n');

  const program = new Command('ingestion')
    .description('Ingest harmful-domain feeds listed in sources.yaml into Kafka (Avro via the schema registry)')
    .requiredOption('-c, --config <path>', 'sources.yaml')
    .option('-s, --source <name>', 'ingest only this source')
    .option('--kafka-servers <list>', 'bootstrap servers host:port[,host:port] (env KAFKA_SERVERS)')
    .option('--schema-registry <url>', `schema registry URL (env SCHEMA_REGISTRY_URL, default ${DEFAULT_REGISTRY})`)
    .option('--topic <name>', `Kafka topic (default: sources.yaml topic, else ${DEFAULT_TOPIC})`)
    .option('--run-id <id>', 'run id stored in every record (env RUN_ID, default generated)')
    .option('--logical-date <iso>', 'logical date of the run, reported in the summary (env LOGICAL_DATE)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stderr.write(s), writeErr: (s) => process.stderr.write(s) });

  let opts: Options;
  try {
    program.parse(argv, { from: 'user' });
    opts = program.opts<Options>();
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) return EXIT.OK;
    summary.error = `usage: ${err instanceof Error ? err.message.replace(/^error: /, '') : String(err)}`;
    summary.durationMs = Date.now() - started;
    print(summary);
    return EXIT.USAGE;
  }

  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stoppedBy !== undefined) return;
    stoppedBy = sig;
    logger.warn({ signal: sig }, 'stopping: finishing the current batch, then disconnecting');
    controller.abort();
    // Last resort if a client ignores the abort: the supervisor's timeout must end this process.
    setTimeout(() => {
      logger.error({ signal: sig }, 'did not stop within 15 s; exiting');
      process.exit(sig === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM);
    }, 15_000).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    const brokers = parseBrokers(opts.kafkaServers ?? env.KAFKA_SERVERS ?? env.KAFKA_BOOTSTRAP_SERVERS);
    // TLS and SASL from the KAFKA_* environment: files read here, once; a bad setting is a usage error naming the variable
    const connection = resolveKafkaConnection(
      { ...kafkaSettingsFromEnv(env, brokers), clientId: 'harmful-domains-ingestion', connectionTimeout: 5000, requestTimeout: 30_000 },
      'KAFKA_*',
    );
    const registryUrl = parseRegistry(opts.schemaRegistry ?? env.SCHEMA_REGISTRY_URL ?? DEFAULT_REGISTRY);
    const file = loadSources(opts.config);
    const sources = selectSources(file, opts.source);
    const topic = opts.topic ?? file.topic ?? DEFAULT_TOPIC;
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new UsageError(`--topic: "${topic}" is not a valid Kafka topic name`);
    const runId = opts.runId ?? env.RUN_ID ?? generatedRunId();
    const logicalDate = opts.logicalDate ?? env.LOGICAL_DATE;
    logger.info(
      {
        config: file.file,
        sources: sources.map((s) => s.name),
        topic,
        brokers,
        security: env.KAFKA_SECURITY_PROTOCOL ?? 'PLAINTEXT',
        sasl: connection.saslLabel,
        runId,
        logicalDate,
      },
      'ingestion starting',
    );
    const result = await runIngestion({
      sources,
      topic,
      runId,
      ...(logicalDate !== undefined && logicalDate !== '' ? { logicalDate } : {}),
      logger,
      signal: controller.signal,
      createProducer: () => createDomainProducer({ brokers, connection, registryUrl, topic, logger }),
    });
    if (stoppedBy !== undefined) result.error = `stopped by ${stoppedBy}`;
    result.ok = result.ok && stoppedBy === undefined;
    print(result);
    logger.info({ ok: result.ok, durationMs: result.durationMs }, 'ingestion finished');
    if (stoppedBy !== undefined) return stoppedBy === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM;
    return result.ok ? EXIT.OK : EXIT.SOURCE_FAILED;
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof SourcesConfigError || (err instanceof SupervisorError && err.code === 'SUP_ERR_CONFIG_INVALID');
    summary.error = err instanceof Error ? err.message : String(err);
    summary.durationMs = Date.now() - started;
    logger.error({ error: summary.error }, usage ? 'configuration error' : 'ingestion crashed');
    print(summary);
    return usage ? EXIT.USAGE : EXIT.SOURCE_FAILED;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // flush stdout before exiting: the summary line is the contract
      process.stdout.write('', () => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`ingestion: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(EXIT.SOURCE_FAILED);
    },
  );
}
