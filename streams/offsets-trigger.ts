/**
 * `offsets` trigger: fires a pipeline when a topic's end offset advances (e.g. an
 * `ingest-requests` control topic) — one run per batch of new records. The records, decoded
 * through the schema registry (Confluent wire format) or as JSON, become the run params:
 * `{ topic, records: [{ partition, offset, key, value, timestamp }], ...first record's fields }`,
 * so `{"source_name": "malware-hosts"}` on the topic reaches the ingestion task as its conf.
 *
 * A consumer group `supervisor-trigger.<pipeline>` starting at the end of the topic notices
 * the advance; its committed offsets survive restarts, so a request is not processed twice
 * (delivery is at-least-once between commit and run creation).
 */
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { Observable } from 'rxjs';
import type { Clock, Logger, SchemaRegistryDecoder, Trigger } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';
import { lazySchemaRegistryDecoder, type SchemaRegistryConnection } from '../src/shared/schema-registry-decoder';
import { describeKafkaError, kafkaClientConfig, resolveKafkaConnection, type KafkaConnection } from '../src/shared/kafka-connection';

export interface OffsetsTriggerParams {
  pipeline: string;
  topic: string;
  decode: 'none' | 'json' | 'schema_registry';
  batchWindowMs: number;
  maxBatch: number;
  /** connections.kafka resolved (TLS, SASL): wins over `brokers` / `clientId`. */
  connection?: KafkaConnection;
  brokers?: readonly string[];
  clientId?: string;
  schemaRegistryUrl?: string;
  /** The registry with its auth, headers and TLS (src/shared/schema-registry-decoder.ts); wins over `schemaRegistryUrl`. */
  schemaRegistry?: SchemaRegistryConnection;
  /** Default `supervisor-trigger.<pipeline>`. */
  groupId?: string;
  clock: Clock;
  logger?: Logger;
  /** Wait before reconnecting after a failure. Default 5 s. */
  retryMs?: number;
}

export interface TriggerRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: unknown;
  timestamp: number;
}

export type ValueDecoder = (value: Buffer | null) => Promise<unknown>;

/** Decodes a record value: Confluent wire format through the registry, else JSON, else text. */
export function createValueDecoder(mode: OffsetsTriggerParams['decode'], registry: SchemaRegistryDecoder | null): ValueDecoder {
  return async (value) => {
    if (value === null) return null;
    if (mode === 'schema_registry' && registry && value.length > 5 && value[0] === 0) return registry.decode(value) as Promise<unknown>;
    const text = value.toString('utf8');
    if (mode === 'none') return text;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  };
}

/** The run params of one batch. */
export function batchParams(topic: string, records: readonly TriggerRecord[]): Record<string, unknown> {
  const first = records[0]?.value;
  const fields = first && typeof first === 'object' && !Array.isArray(first) ? (first as Record<string, unknown>) : {};
  return { ...fields, topic, records };
}

export function createOffsetsTrigger$(params: OffsetsTriggerParams): Observable<Trigger> {
  const { clock } = params;
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'offsets-trigger' });
  const groupId = params.groupId ?? `supervisor-trigger.${params.pipeline}`;
  const registry =
    params.decode === 'schema_registry' && (params.schemaRegistry ?? params.schemaRegistryUrl)
      ? lazySchemaRegistryDecoder(params.schemaRegistry ?? params.schemaRegistryUrl!)
      : null;
  const decodeValue = createValueDecoder(params.decode, registry);
  const connection = params.connection ?? resolveKafkaConnection({ brokers: params.brokers ?? [], clientId: params.clientId });

  return new Observable<Trigger>((subscriber) => {
    const ac = new AbortController();
    let consumer: Consumer | null = null;
    let batch: TriggerRecord[] = [];
    let windowTimer: NodeJS.Timeout | undefined;
    let lastLogicalDate = 0;

    const flush = (): void => {
      clearTimeout(windowTimer);
      windowTimer = undefined;
      if (batch.length === 0 || ac.signal.aborted) return;
      const records = batch;
      batch = [];
      const now = clock.now();
      // Distinct logical dates, so two batches in one millisecond are two runs.
      const logicalDate = Math.max(now, lastLogicalDate + 1);
      lastLogicalDate = logicalDate;
      logger.info({ pipeline: params.pipeline, topic: params.topic, records: records.length }, 'new records: firing');
      subscriber.next({ pipeline: params.pipeline, logicalDate, kind: 'offsets', params: batchParams(params.topic, records), firedAt: now });
    };

    let lastProblem: string | null = null;
    const connect = async (): Promise<void> => {
      while (!ac.signal.aborted) {
        // short kafkajs retries: their timers cannot be cancelled and would hold up a stop; this
        // loop reconnects after retryMs itself
        const kafka = new Kafka(kafkaClientConfig(connection, { logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 1000 } }));
        const c = kafka.consumer({ groupId, retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 1000 } });
        consumer = c;
        try {
          await c.connect();
          // stopped while connecting: no subscription, no run (the disconnect below ends it)
          if (ac.signal.aborted) throw new Error('stopped');
          await c.subscribe({ topic: params.topic, fromBeginning: false });
          if (ac.signal.aborted) throw new Error('stopped');
          const crashed = new Promise<void>((resolve) => c.on(c.events.CRASH, () => resolve()));
          await c.run({
            autoCommit: true,
            eachMessage: async ({ partition, message }) => {
              let value: unknown;
              try {
                value = await decodeValue(message.value);
              } catch (err) {
                value = { undecodable: (err as Error).message };
                logger.warn(
                  { pipeline: params.pipeline, topic: params.topic, partition, offset: message.offset, error: (err as Error).message },
                  'cannot decode a record; passing the error as its value',
                );
              }
              batch.push({ partition, offset: message.offset, key: message.key ? message.key.toString('utf8') : null, value, timestamp: Number(message.timestamp) });
              if (batch.length >= params.maxBatch) flush();
              else windowTimer ??= setTimeout(flush, params.batchWindowMs);
            },
          });
          logger.info({ pipeline: params.pipeline, topic: params.topic, groupId }, lastProblem ? 'watching the topic for new records again' : 'watching the topic for new records');
          lastProblem = null;
          await Promise.race([crashed, new Promise<void>((resolve) => (ac.signal.aborted ? resolve() : ac.signal.addEventListener('abort', () => resolve(), { once: true })))]);
        } catch (err) {
          if (!ac.signal.aborted) {
            // the plain reason (authentication refused, certificate problem), once per distinct problem
            const error = (describeKafkaError(err, connection) ?? (err as Error)).message;
            if (error !== lastProblem)
              logger.warn({ pipeline: params.pipeline, topic: params.topic, error }, 'offsets trigger cannot consume; retrying (repeats are logged at debug)');
            else logger.debug({ pipeline: params.pipeline, topic: params.topic, error }, 'offsets trigger cannot consume; retrying');
            lastProblem = error;
          }
        }
        await c.disconnect().catch(() => undefined);
        if (consumer === c) consumer = null;
        if (ac.signal.aborted) return;
        await clock.sleep(params.retryMs ?? 5_000, ac.signal).catch(() => undefined);
      }
    };
    void connect();
    return () => {
      ac.abort();
      clearTimeout(windowTimer);
      void consumer?.disconnect().catch(() => undefined);
    };
  });
}
