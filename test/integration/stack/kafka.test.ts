/**
 * Kafka 4.x (KRaft) from the local stack against kafkajs 2.2.4: metadata, create topic,
 * produce, consume, commit, fetchOffsets.
 */
import type { Admin, Consumer, Producer } from 'kafkajs';
import { freshGroup, freshTopic } from '../../helpers/names';
import { STACK_TIMEOUT_MS, ensureServices, kafkaClient } from '../../helpers/stack';

describe('local stack: kafka', () => {
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    await ensureServices(['kafka']);
    admin = kafkaClient('stack-test-admin').admin();
    producer = kafkaClient('stack-test-producer').producer();
    await Promise.all([admin.connect(), producer.connect()]);
  }, STACK_TIMEOUT_MS);

  afterEach(async () => {
    await consumer?.disconnect();
    consumer = undefined;
  });

  afterAll(async () => {
    await Promise.allSettled([admin?.disconnect(), producer?.disconnect()]);
  });

  it('reports the single KRaft broker as controller', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.brokers[0]).toMatchObject({ nodeId: 1, host: '127.0.0.1' });
    expect(cluster.controller).toBe(1);
  });

  it('creates a topic, produces, consumes, commits and fetches the committed offsets', async () => {
    const topic = freshTopic('stack-kafka');
    const groupId = freshGroup('stack-kafka');
    await expect(admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).resolves.toBe(true);

    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1]);

    const messages = Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2 }));
    await producer.send({ topic, messages });

    const ends = await admin.fetchTopicOffsets(topic);
    expect(ends.map((o) => [o.partition, o.high]).sort()).toEqual([
      [0, '3'],
      [1, '3'],
    ]);

    consumer = kafkaClient('stack-test-consumer').consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    const allSeen = new Promise<void>((resolve) => {
      void consumer!.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          seen.push(message.value!.toString());
          await consumer!.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
          if (seen.length === messages.length) resolve();
        },
      });
    });
    await allSeen;
    expect(seen.sort()).toEqual(messages.map((m) => m.value).sort());

    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed).toHaveLength(1);
    expect(committed[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '3'],
      [1, '3'],
    ]);

    await consumer.disconnect();
    consumer = undefined;
    await admin.deleteTopics({ topics: [topic] });
  });
});
