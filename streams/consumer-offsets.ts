/**
 * The `__consumer_offsets` topic as an Observable of commit events, so the lag check needs no
 * per-group offset fetch (as Burrow and kminion's offsets-topic mode do).
 *
 * A kafkajs consumer with a random group id that never commits reads the topic from the
 * beginning. It emits `{type:'state', state:'catching_up'}` first, `live` once every partition
 * reached the end offset seen at start, and `unavailable` (with the error) when the topic
 * can't be read — then it retries with backoff, and the lag check falls back to admin fetches
 * meanwhile. Malformed records are logged and skipped; the stream never errors. After a
 * rebalance or reconnect the consumer seeks back to where it was instead of replaying.
 */
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { describeError, type Clock, type ConsumerOffsetsEvent, type Logger } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';
import { systemClock } from '../src/shared/clock';
import { describeKafkaError, kafkaClientConfig, kafkaLogCreator, type KafkaConnection } from '../src/shared/kafka-connection';
import { decodeConsumerOffsetsRecord } from './consumer-offsets-codec';

export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

export interface ConsumerOffsetsParams {
  /** connections.kafka resolved (TLS, SASL, timeouts): wins over brokers/clientId/ssl/sasl. */
  connection?: KafkaConnection;
  brokers?: readonly string[];
  clientId?: string;
  ssl?: KafkaConfig['ssl'];
  sasl?: SASLOptions;
  logger?: Logger;
  clock?: Clock;
  /** Prefix of the random, never-committing group id (exclude it from lag checks). */
  groupIdPrefix?: string;
  /** Wait before reconnecting after the topic could not be read. */
  retryDelayMs?: number;
  /** Topic to read (tests may point it elsewhere). */
  topic?: string;
  connectionTimeout?: number;
  requestTimeout?: number;
}

export const DEFAULT_GROUP_ID_PREFIX = 'pipeline-supervisor-offsets-';

export function createConsumerOffsets$(params: ConsumerOffsetsParams): Observable<ConsumerOffsetsEvent> {
  return new Observable<ConsumerOffsetsEvent>((subscriber) => {
    const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'consumer-offsets' });
    const clock = params.clock ?? systemClock;
    const topic = params.topic ?? CONSUMER_OFFSETS_TOPIC;
    const retryDelayMs = params.retryDelayMs ?? 5000;
    const stopper = new AbortController();
    const groupId = `${params.groupIdPrefix ?? DEFAULT_GROUP_ID_PREFIX}${randomUUID()}`;
    /** Next offset to read per partition: survives rebalances and reconnects. */
    const positions = new Map<number, string>();
    let consumer: Consumer | null = null;
    let sessionAdmin: Admin | null = null;
    let live = false;
    let decodeErrors = 0;

    const connection: Pick<KafkaConnection, 'brokers' | 'saslLabel' | 'sasl' | 'ssl' | 'where'> = params.connection ?? {
      brokers: params.brokers ?? [],
      where: 'connections.kafka',
      ...(params.ssl !== undefined && params.ssl !== false ? { ssl: params.ssl === true ? true : (params.ssl as Exclude<KafkaConnection['ssl'], undefined>) } : {}),
      ...(params.sasl !== undefined ? { sasl: params.sasl, saslLabel: `SASL ${params.sasl.mechanism.toUpperCase()}` } : {}),
    };
    const overrides: Partial<KafkaConfig> = {
      // This stream retries a failed session itself (every retryDelayMs); kafkajs's own connect
      // retries are kept short because their timers cannot be cancelled and would hold up a stop.
      retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      // kafkajs's own lines at debug only (the session's failures are logged below, named); never SASL fields
      logCreator: kafkaLogCreator(logger, { warnAsDebug: true }),
    };
    const kafka = new Kafka(
      params.connection
        ? kafkaClientConfig(params.connection, {
            ...(params.requestTimeout !== undefined ? { requestTimeout: params.requestTimeout } : { requestTimeout: Math.max(30_000, params.connection.requestTimeout) }),
            ...overrides,
          })
        : {
            clientId: params.clientId ?? 'pipeline-supervisor',
            brokers: [...(params.brokers ?? [])],
            connectionTimeout: params.connectionTimeout ?? 3000,
            requestTimeout: params.requestTimeout ?? 30_000,
            ...overrides,
            ...(params.ssl !== undefined ? { ssl: params.ssl } : {}),
            ...(params.sasl !== undefined ? { sasl: params.sasl } : {}),
          },
    );

    const emit = (e: ConsumerOffsetsEvent): void => {
      if (!subscriber.closed) subscriber.next(e);
    };

    /** One connected session; resolves when it crashes for good (or rejects on setup failure). */
    const session = async (): Promise<void> => {
      const admin = kafka.admin();
      sessionAdmin = admin;
      let targets: Map<number, number>;
      try {
        await admin.connect();
        const offsets = await admin.fetchTopicOffsets(topic);
        targets = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
      } finally {
        sessionAdmin = null;
        await admin.disconnect().catch(() => undefined);
      }
      if (stopper.signal.aborted) return;
      const pending = new Set<number>();
      if (!live) {
        for (const [partition, high] of targets) {
          const pos = Number(positions.get(partition) ?? 0);
          if (high > pos) pending.add(partition);
        }
        if (pending.size === 0) {
          live = true;
          emit({ type: 'state', state: 'live' });
        }
      }
      const markProgress = (partition: number, nextOffset: number): void => {
        if (live || !pending.has(partition)) return;
        if (nextOffset >= (targets.get(partition) ?? 0)) pending.delete(partition);
        if (pending.size === 0) {
          live = true;
          logger.info({ partitions: targets.size }, `${topic} replayed; commit events are live`);
          emit({ type: 'state', state: 'live' });
        }
      };

      // Fetches of at most 1 MB (256 KB a partition; kafkajs's defaults are 10 MB and 1 MB): the
      // replay of 200,000 commits (bench 8) peaked at RSS 155 MB instead of 280 and was live in
      // 2.8 s instead of 2.5; commits are small records, and the broker still sends a batch
      // bigger than the limit whole.
      const c = kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 500,
        maxBytes: 1024 * 1024,
        maxBytesPerPartition: 256 * 1024,
        retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 1000 },
      });
      consumer = c;
      let crashed: (err: unknown) => void = () => undefined;
      const crash = new Promise<unknown>((resolve) => (crashed = resolve));
      c.on(c.events.CRASH, (e) => {
        if (!e.payload.restart) crashed(e.payload.error);
      });
      c.on(c.events.GROUP_JOIN, () => {
        for (const [partition, offset] of positions) {
          try {
            c.seek({ topic, partition, offset });
          } catch {
            // Not assigned to us in this generation: nothing to restore.
          }
        }
      });
      c.on(c.events.END_BATCH_PROCESS, (e) => {
        const next = Number(e.payload.lastOffset) + 1;
        const partition = e.payload.partition;
        if (next > Number(positions.get(partition) ?? -1)) positions.set(partition, String(next));
        markProgress(partition, next);
      });
      // a stop during a step must not leave a consumer running: check after every await
      const stoppedNow = async (): Promise<boolean> => {
        if (!stopper.signal.aborted) return false;
        if (consumer === c) consumer = null;
        await c.disconnect().catch(() => undefined);
        return true;
      };
      await c.connect();
      if (await stoppedNow()) return;
      await c.subscribe({ topics: [topic], fromBeginning: true });
      if (await stoppedNow()) return;
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            try {
              const event = decodeConsumerOffsetsRecord(m.key, m.value);
              if (event) emit(event);
            } catch (err) {
              decodeErrors += 1;
              if (decodeErrors <= 10 || decodeErrors % 1000 === 0) {
                logger.warn({ partition: batch.partition, offset: m.offset, decodeErrors, err: describeError(err) }, `skipped an undecodable ${topic} record`);
              }
            }
          }
        },
      });
      if (await stoppedNow()) return;
      const stopped = new Promise<'stopped'>((resolve) => stopper.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
      const error = await Promise.race([crash, stopped]);
      if (error === 'stopped') {
        await stoppedNow();
        return;
      }
      throw error;
    };

    const loop = async (): Promise<void> => {
      emit({ type: 'state', state: 'catching_up' });
      // one warning per distinct problem; the retries of the same one are logged at debug
      let lastProblem: string | null = null;
      let retries = 0;
      while (!stopper.signal.aborted) {
        try {
          await session();
        } catch (err) {
          if (stopper.signal.aborted) break;
          // authentication refused, a certificate problem: named as such (describeKafkaError)
          const error = describeError(describeKafkaError(err, connection) ?? err, 'SUP_ERR_KAFKA_UNREACHABLE');
          if (live) lastProblem = null;
          retries = error.message === lastProblem ? retries + 1 : 0;
          const unknownTopic = /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/i.test(error.message);
          const text = unknownTopic
            ? `${topic} does not exist yet (no consumer group has committed on this cluster); lag checks use offset fetches until it does`
            : `cannot read ${topic}; lag checks fall back to offset fetches`;
          if (retries === 0) logger.warn({ err: error, retryInMs: retryDelayMs }, `${text}; retrying every ${Math.round(retryDelayMs / 1000)} s (repeats are logged at debug)`);
          else logger.debug({ err: error, retries }, text);
          lastProblem = error.message;
          emit({ type: 'state', state: 'unavailable', error });
          live = false;
        }
        const c = consumer;
        consumer = null;
        await c?.disconnect().catch(() => undefined);
        try {
          await clock.sleep(retryDelayMs, stopper.signal);
        } catch {
          break;
        }
      }
    };
    // the loop catches per session; this is the last line should its own handling ever throw
    loop().catch((err: unknown) => {
      logger.error({ err }, `the ${topic} reader stopped unexpectedly; lag checks use offset fetches`);
      emit({ type: 'state', state: 'unavailable', error: describeError(err, 'SUP_ERR_INTERNAL') });
    });

    return () => {
      stopper.abort();
      const c = consumer;
      consumer = null;
      void c?.disconnect().catch(() => undefined);
      void sessionAdmin?.disconnect().catch(() => undefined);
    };
  });
}
