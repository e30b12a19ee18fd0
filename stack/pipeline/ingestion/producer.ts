/**
 * The only module of the ingestion service that talks to Kafka and the schema registry:
 * ensures the topic exists, registers the Avro schema under `<topic>-value`, and sends records
 * keyed by domain with an idempotent kafkajs producer (acks=all, one request in flight), in
 * batches, stopping between batches when aborted.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, type Admin, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { describeKafkaError, kafkaClientConfig, resolveKafkaConnection, type KafkaConnection } from '../../../src/shared/kafka-connection';

export const SCHEMA_PATH = path.resolve(__dirname, '../schemas/harmful_domain.avsc');

export interface HarmfulDomainValue {
  domain: string;
  source: string;
  category: string;
  first_seen: number;
  ingested_at: number;
  run_id: string;
}

export interface ProducerParams {
  brokers: string[];
  /** TLS and SASL (from the KAFKA_* environment the supervisor hands over; see cli.ts); its brokers win. */
  connection?: KafkaConnection;
  registryUrl: string;
  topic: string;
  logger: Logger;
  clientId?: string;
  /** partitions when the topic has to be created */
  partitions?: number;
  batchSize?: number;
  connectionTimeoutMs?: number;
}

export class AbortedError extends Error {
  constructor() {
    super('ingestion aborted (SIGTERM/SIGINT)');
    this.name = 'AbortedError';
  }
}

/** kafkajs log lines → pino, at their own level. */
function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const fields = { ...extra, lib: 'kafkajs' };
      if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.debug(fields, message);
      else logger.trace(fields, message);
    };
}

export interface DomainProducer {
  /** Connects, creates the topic if missing, registers the schema. */
  start(): Promise<void>;
  /** Sends all values; returns how many were acknowledged. Throws AbortedError when the signal fires between batches. */
  send(values: HarmfulDomainValue[], signal?: AbortSignal): Promise<number>;
  /** Idempotent; disconnects whatever was connected. */
  close(): Promise<void>;
  readonly schemaId: number | undefined;
}

export function createDomainProducer(params: ProducerParams): DomainProducer {
  const log = params.logger.child({ component: 'producer' });
  const connection =
    params.connection ??
    resolveKafkaConnection(
      { brokers: params.brokers, clientId: params.clientId ?? 'harmful-domains-ingestion', connectionTimeout: params.connectionTimeoutMs ?? 5000, requestTimeout: 30_000 },
      'KAFKA_*',
    );
  const kafka = new Kafka(
    kafkaClientConfig(connection, {
      ...(params.clientId ? { clientId: params.clientId } : {}),
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(log),
      // an authentication failure is not retried by kafkajs (non-retriable): the run fails at once with it named
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 },
    }),
  );
  /** authentication refused, a certificate problem: named (describeKafkaError), else as kafkajs says it */
  const named = (err: unknown): Error => describeKafkaError(err, connection) ?? (err as Error);
  const registry = new SchemaRegistry({ host: params.registryUrl, clientId: 'harmful-domains-ingestion' });
  const schema = readFileSync(SCHEMA_PATH, 'utf8');
  const subject = `${params.topic}-value`;
  const batchSize = params.batchSize ?? 500;
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let schemaId: number | undefined;
  let closing: Promise<void> | undefined;

  async function ensureTopic(): Promise<void> {
    admin = kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(params.topic)) {
      const created = await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: params.topic, numPartitions: params.partitions ?? 3, replicationFactor: 1 }],
      });
      log.info({ topic: params.topic, created }, created ? 'created topic' : 'topic created meanwhile by someone else');
    }
    await admin.disconnect();
    admin = undefined;
  }

  return {
    get schemaId() {
      return schemaId;
    },
    async start() {
      try {
        await ensureTopic();
      } catch (err) {
        throw named(err);
      }
      try {
        const res = await registry.register({ type: SchemaType.AVRO, schema }, { subject });
        schemaId = res.id;
      } catch (err) {
        throw new Error(`schema registry ${params.registryUrl}: cannot register subject ${subject}: ${(err as Error).message}`, { cause: err });
      }
      log.info({ subject, schemaId }, 'schema registered');
      producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      try {
        await producer.connect();
      } catch (err) {
        throw named(err);
      }
    },
    async send(values, signal) {
      if (producer === undefined || schemaId === undefined) throw new Error('producer not started');
      let acked = 0;
      for (let i = 0; i < values.length; i += batchSize) {
        if (signal?.aborted) throw new AbortedError();
        const batch = values.slice(i, i + batchSize);
        const messages = await Promise.all(
          batch.map(async (v) => ({
            key: v.domain,
            value: await registry.encode(schemaId!, v),
            headers: { source: v.source, run_id: v.run_id },
          })),
        );
        await producer.send({ topic: params.topic, acks: -1, messages });
        acked += batch.length;
      }
      return acked;
    },
    close() {
      closing ??= (async () => {
        const steps: Promise<void>[] = [];
        if (producer) steps.push(producer.disconnect());
        if (admin) steps.push(admin.disconnect());
        const results = await Promise.allSettled(steps);
        for (const r of results) if (r.status === 'rejected') log.warn({ err: r.reason }, 'disconnect failed');
      })();
      return closing;
    },
  };
}
