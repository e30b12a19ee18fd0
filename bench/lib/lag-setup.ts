/**
 * Scenario 3 setup on the bench broker: one topic with 20 partitions, 100 records per partition,
 * and committed offsets for N groups (group g, partition p at offset (g + p) % 100, so every
 * lag differs and is known in advance). Commits are OffsetCommit requests with generation -1
 * (how a group without members commits — what kafka-consumer-groups --reset-offsets does), sent
 * through kafkajs' cluster with bounded concurrency: no group joins, no rebalance delays.
 */
import { Kafka, logLevel } from 'kafkajs';

// kafkajs internals (stable since 1.x): the cluster and its broker connections.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Cluster = require('kafkajs/src/cluster') as new (o: Record<string, unknown>) => {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(o: { groupId: string }): Promise<{ offsetCommit(o: Record<string, unknown>): Promise<unknown> }>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createLogger, LEVELS } = require('kafkajs/src/loggers') as { createLogger: (o: unknown) => unknown; LEVELS: Record<string, number> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const socketFactory = require('kafkajs/src/network/socketFactory') as () => unknown;

export const LAG_TOPIC = 'bench-lag';
export const LAG_PARTITIONS = 20;
export const RECORDS_PER_PARTITION = 100;
export const groupName = (g: number): string => `bench-lag-g${String(g).padStart(5, '0')}`;
export const expectedLag = (g: number, p: number): number => RECORDS_PER_PARTITION - ((g + p) % RECORDS_PER_PARTITION);

/** Which topic and group names a setup writes (scenario 3: bench-lag / bench-lag-gNNNNN; scenario 8 has its own). */
export interface LagNaming {
  topic: string;
  group: (g: number) => string;
}

export async function setupLagGroups(
  brokers: string,
  groups: number,
  log: (m: string) => void,
  naming: LagNaming = { topic: LAG_TOPIC, group: groupName },
  /** OffsetCommit requests in flight */
  concurrency = 32,
): Promise<{ seconds: number; created: boolean; commitSeconds: number }> {
  const { topic: topicName, group: nameOf } = naming;
  const kafka = new Kafka({ brokers: [brokers], clientId: 'bench-setup', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const t0 = performance.now();
  try {
    const topics = await admin.listTopics();
    if (topics.includes(topicName)) {
      const offsets = await admin.fetchTopicOffsets(topicName);
      // right after a broker start its group coordinator may still be loading __consumer_offsets:
      // retried, so a slow start is not taken for missing commits (which recreated the topic)
      let last: Awaited<ReturnType<typeof admin.fetchOffsets>> = [];
      for (let attempt = 1; attempt <= 30; attempt++) {
        try {
          last = await admin.fetchOffsets({ groupId: nameOf(groups - 1), topics: [topicName] });
          break;
        } catch (err) {
          if (!/coordinator/i.test((err as Error).message)) break;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      const ok =
        offsets.every((o) => Number(o.high) === RECORDS_PER_PARTITION) &&
        last[0]?.partitions.every((p) => Number(p.offset) === RECORDS_PER_PARTITION - expectedLag(groups - 1, p.partition));
      if (ok) return { seconds: 0, created: false, commitSeconds: 0 };
      await admin.deleteTopics({ topics: [topicName] });
      await new Promise((r) => setTimeout(r, 2000));
    }
    await admin.createTopics({ topics: [{ topic: topicName, numPartitions: LAG_PARTITIONS }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    for (let p = 0; p < LAG_PARTITIONS; p++) {
      await producer.send({ topic: topicName, messages: Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({ partition: p, value: `r${i}` })) });
    }
    await producer.disconnect();
    log(`topic ${topicName}: ${LAG_PARTITIONS} partitions × ${RECORDS_PER_PARTITION} records in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await admin.disconnect();
  }
  const cluster = new Cluster({
    logger: createLogger({ level: LEVELS.NOTHING, logCreator: () => () => undefined }),
    brokers: [brokers],
    clientId: 'bench-setup',
    socketFactory: socketFactory(),
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 5 },
    offsets: new Map(),
  });
  await cluster.connect();
  const t1 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < groups) {
        const g = next++;
        const groupId = nameOf(g);
        for (let attempt = 1; ; attempt++) {
          try {
            const coordinator = await cluster.findGroupCoordinator({ groupId });
            await coordinator.offsetCommit({
              groupId,
              groupGenerationId: -1,
              memberId: '',
              topics: [
                { topic: topicName, partitions: Array.from({ length: LAG_PARTITIONS }, (_, p) => ({ partition: p, offset: String(RECORDS_PER_PARTITION - expectedLag(g, p)) })) },
              ],
            });
            break;
          } catch (err) {
            // coordinators still loading after a broker start: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS…
            if (attempt >= 30 || !/coordinator/i.test((err as Error).message)) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }
    }),
  );
  await cluster.disconnect();
  const commitSeconds = (performance.now() - t1) / 1000;
  log(`${groups} groups × ${LAG_PARTITIONS} partitions committed in ${commitSeconds.toFixed(1)} s (${concurrency} OffsetCommit requests in flight)`);
  return { seconds: (performance.now() - t0) / 1000, created: true, commitSeconds };
}
