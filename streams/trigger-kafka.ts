/**
 * The Kafka calls the event triggers and gates need, through one lazily connected kafkajs
 * admin client: a consumer group's total lag on a topic, and a cheap cluster health probe.
 * (The continuous lag check has its own offsets stream; triggers do not depend on it.)
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Logger } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';
import { describeKafkaError, kafkaClientConfig, resolveKafkaConnection, type KafkaConnection } from '../src/shared/kafka-connection';

export interface KafkaAdminSource {
  /** Σ over partitions of (end offset − committed offset); a partition never committed counts end − start. */
  lag(group: string, topic: string): Promise<number>;
  /** null when a broker answered with a controller, else the reason. */
  health(): Promise<string | null>;
  close(): Promise<void>;
}

export interface KafkaAdminSourceParams {
  /** connections.kafka resolved (TLS, SASL): wins over `brokers` / `clientId`. */
  connection?: KafkaConnection;
  brokers?: readonly string[];
  clientId?: string;
  logger?: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export function createKafkaAdminSource(params: KafkaAdminSourceParams): KafkaAdminSource {
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'trigger-kafka' });
  const connection =
    params.connection ??
    resolveKafkaConnection({
      brokers: params.brokers ?? [],
      clientId: params.clientId,
      connectionTimeout: params.connectionTimeoutMs ?? 3_000,
      requestTimeout: params.requestTimeoutMs ?? 10_000,
    });
  const kafka = new Kafka(
    kafkaClientConfig(connection, {
      // kafkajs schedules its retries with timers nobody can cancel: short ones, so a stop is not
      // held up by them (the gates and triggers ask again at their next evaluation anyway); an
      // authentication failure is not retried by kafkajs at all
      retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1000 },
      logLevel: logLevel.NOTHING,
    }),
  );
  /** The plain reason (authentication refused, certificate problem) when there is one. */
  const explain = (err: unknown): Error => describeKafkaError(err, connection) ?? (err instanceof Error ? err : new Error(String(err)));
  let lastProblem: string | null = null;
  const report = (err: Error): void => {
    // once per distinct problem; the repeats at debug
    if (err.message !== lastProblem) logger.warn({ error: err.message }, 'Kafka admin for the triggers and gates failed');
    else logger.debug({ error: err.message }, 'Kafka admin for the triggers and gates failed again');
    lastProblem = err.message;
  };
  let admin: Admin | null = null;
  let connecting: Promise<Admin> | null = null;
  let closed = false;

  const getAdmin = (): Promise<Admin> => {
    if (closed) return Promise.reject(new Error('the Kafka admin is closed'));
    if (admin) return Promise.resolve(admin);
    connecting ??= (async () => {
      const a = kafka.admin();
      try {
        await a.connect();
      } catch (err) {
        connecting = null;
        await a.disconnect().catch(() => undefined);
        throw err;
      }
      connecting = null;
      if (closed) {
        // closed while connecting: this admin must not outlive the source
        await a.disconnect().catch(() => undefined);
        throw new Error('the Kafka admin is closed');
      }
      admin = a;
      return a;
    })();
    return connecting;
  };
  const reset = async (): Promise<void> => {
    const a = admin;
    admin = null;
    await a?.disconnect().catch(() => undefined);
  };

  return {
    async lag(group, topic) {
      let a: Admin;
      try {
        a = await getAdmin();
      } catch (err) {
        const named = explain(err);
        report(named);
        throw named;
      }
      try {
        const [ends, committed] = await Promise.all([a.fetchTopicOffsets(topic), a.fetchOffsets({ groupId: group, topics: [topic] })]);
        const byPartition = new Map<number, number>();
        for (const t of committed) for (const p of t.partitions) byPartition.set(p.partition, Number(p.offset));
        let total = 0;
        for (const e of ends) {
          const end = Number(e.high);
          const c = byPartition.get(e.partition) ?? -1;
          total += Math.max(0, end - (c >= 0 ? c : Number(e.low)));
        }
        lastProblem = null;
        return total;
      } catch (err) {
        await reset();
        const named = explain(err);
        report(named);
        throw named;
      }
    },
    async health() {
      try {
        const a = await getAdmin();
        const cluster = await a.describeCluster();
        if (cluster.brokers.length === 0) return 'no broker in the cluster metadata';
        if (cluster.controller === null || cluster.controller < 0) return 'no active controller';
        lastProblem = null;
        return null;
      } catch (err) {
        await reset();
        const named = describeKafkaError(err, connection);
        report(named ?? (err as Error));
        return named ? named.message : `no broker answered: ${(err as Error).message}`;
      }
    },
    async close() {
      closed = true;
      await reset();
      if (!params.connection) await connection.tokens?.close();
    },
  };
}
