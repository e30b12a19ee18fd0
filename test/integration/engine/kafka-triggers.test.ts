import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Admin, Producer } from 'kafkajs';
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { configSchema } from '../../../src/config/schema';
import { createEngine } from '../../../src/engine/engine';
import type { Operator } from '../../../src/engine/operator';
import type { RunEvent } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { systemClock } from '../../../src/shared/clock';
import { openDatabase } from '../../../src/store/database';
import { createLagTrigger$ } from '../../../streams/lag-trigger';
import { createOffsetsTrigger$ } from '../../../streams/offsets-trigger';
import { createKafkaAdminSource } from '../../../streams/trigger-kafka';
import { endpoints, ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { freshGroup, freshTopic } from '../../helpers/names';

const brokers = endpoints.kafkaBrokers.slice();

describe('Kafka triggers and gates (real Kafka)', () => {
  let admin: Admin;
  let producer: Producer;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    await ensureServices(['kafka', 'schema-registry']);
    const kafka = kafkaClient('engine-triggers-test');
    admin = kafka.admin();
    producer = kafka.producer();
    await admin.connect();
    await producer.connect();
  }, STACK_TIMEOUT_MS);

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c().catch(() => undefined);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
  });

  async function topicWith(messages: number, partitions = 2): Promise<string> {
    const topic = freshTopic('engine-trig');
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    cleanups.push(() => admin.deleteTopics({ topics: [topic] }));
    if (messages > 0) await producer.send({ topic, messages: Array.from({ length: messages }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    return topic;
  }

  async function commitAt(group: string, topic: string, offsetPerPartition: (end: number) => number): Promise<void> {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId: group, topic, partitions: ends.map((e) => ({ partition: e.partition, offset: String(offsetPerPartition(Number(e.high))) })) });
    cleanups.push(() => admin.deleteGroups([group]));
  }

  it('measures a group lag on a topic and the cluster health', async () => {
    const topic = await topicWith(10, 1);
    const group = freshGroup('engine-lag');
    await commitAt(group, topic, () => 4);
    const source = createKafkaAdminSource({ brokers, clientId: 'test' });
    try {
      expect(await source.lag(group, topic)).toBe(6);
      expect(await source.lag(freshGroup('never-committed'), topic)).toBe(10);
      expect(await source.health()).toBeNull();
    } finally {
      await source.close();
    }
    const dead = createKafkaAdminSource({ brokers: ['127.0.0.1:1'], clientId: 'test', connectionTimeoutMs: 300 });
    try {
      expect(await dead.health()).toMatch(/no broker answered/);
    } finally {
      await dead.close();
    }
  }, 30_000);

  it('lag trigger fires once the group has caught up and stayed there, once per episode', async () => {
    const topic = await topicWith(5, 1);
    const group = freshGroup('engine-lag');
    await commitAt(group, topic, (end) => end - 3); // lagging 3
    const source = createKafkaAdminSource({ brokers, clientId: 'test' });
    cleanups.push(() => source.close());
    const fired: Array<{ lag: number; at: number }> = [];
    const sub = createLagTrigger$({
      pipeline: 'p',
      group,
      topic,
      maxLag: 0,
      forMs: 400,
      cooldownMs: 0,
      pollMs: 100,
      fetchLag: () => source.lag(group, topic),
      clock: systemClock,
    }).subscribe((t) => fired.push({ lag: t.params.lag as number, at: t.firedAt }));
    cleanups.push(async () => sub.unsubscribe());
    await new Promise((r) => setTimeout(r, 800));
    expect(fired).toEqual([]); // still lagging
    const caughtUpFrom = Date.now();
    await commitAt(group, topic, (end) => end); // caught up
    const deadline = Date.now() + 5_000;
    while (fired.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fired.map((f) => f.lag)).toEqual([0]);
    expect(fired[0]!.at - caughtUpFrom).toBeGreaterThanOrEqual(400); // held for `for` before firing
    await new Promise((r) => setTimeout(r, 800));
    expect(fired).toHaveLength(1); // once per caught-up episode
  }, 30_000);

  it('offsets trigger: new records decoded through the schema registry become run params, one run per batch', async () => {
    const topic = await topicWith(0, 1);
    const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
    const { id } = await registry.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          type: 'record',
          name: 'IngestRequest',
          namespace: 'test',
          fields: [
            { name: 'source_name', type: 'string' },
            { name: 'requested_by', type: 'string' },
          ],
        }),
      },
      { subject: `${topic}-value` },
    );
    const triggers = firstValueFrom(
      createOffsetsTrigger$({
        pipeline: 'p',
        topic,
        decode: 'schema_registry',
        batchWindowMs: 500,
        maxBatch: 100,
        brokers,
        clientId: 'test',
        schemaRegistryUrl: endpoints.schemaRegistryUrl,
        groupId: freshGroup('engine-offsets'),
        clock: systemClock,
        retryMs: 500,
      }).pipe(take(1), timeout(30_000), toArray()),
    );
    // Wait until the consumer has joined and sits at the end of the topic, then produce.
    await new Promise((r) => setTimeout(r, 6_000));
    await producer.send({
      topic,
      messages: [
        { key: 'r1', value: await registry.encode(id, { source_name: 'malware-hosts', requested_by: 'alice' }) },
        { key: 'r2', value: await registry.encode(id, { source_name: 'scam-domains', requested_by: 'bob' }) },
      ],
    });
    const [t] = await triggers;
    expect(t!.kind).toBe('offsets');
    expect(t!.params).toMatchObject({ source_name: 'malware-hosts', requested_by: 'alice', topic });
    const records = t!.params.records as Array<{ key: string; value: unknown }>;
    expect(records.map((r) => [r.key, r.value])).toEqual([
      ['r1', { source_name: 'malware-hosts', requested_by: 'alice' }],
      ['r2', { source_name: 'scam-domains', requested_by: 'bob' }],
    ]);
  }, 60_000);

  it('gate: a scheduled run is skipped with its reason while the downstream group lags, and runs once it caught up', async () => {
    const topic = await topicWith(20, 1);
    const group = freshGroup('engine-gate');
    await commitAt(group, topic, () => 0); // 20 behind
    const db = openDatabase({ file: ':memory:' });
    cleanups.push(async () => db.close());
    let calls = 0;
    const op: Operator = async () => {
      calls += 1;
      return {};
    };
    const config = configSchema.parse({
      pipelines: {
        gated: { schedule: '* * * * * *', overlap: 'skip', tasks: [{ id: 'a', operator: 'command' }], gate: { kafka_healthy: true, max_lag: { group, topic, max_lag: 5 } } },
      },
    });
    const engine = createEngine({
      config: { file: '/tmp/x.yaml', config, variables: {} },
      db,
      logger: silentLogger,
      operators: { command: op },
      kafka: { brokers, clientId: 'test' },
    });
    cleanups.push(() => engine.close());
    const events: RunEvent[] = [];
    engine.runEvents$.subscribe((e) => events.push(e));
    await engine.start();
    await new Promise((r) => setTimeout(r, 2_500));
    const skipped = engine.store.listRuns({ pipeline: 'gated', state: 'skipped' });
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(skipped[0]!.reason).toBe(`gate: consumer group ${group} lags 20 messages on ${topic} (above 5)`);
    expect(calls).toBe(0);
    await commitAt(group, topic, (end) => end);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(engine.store.listRuns({ pipeline: 'gated', state: 'success' }).length).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('gate: Kafka unreachable closes the gate', async () => {
    const db = openDatabase({ file: ':memory:' });
    cleanups.push(async () => db.close());
    const config = configSchema.parse({ pipelines: { gated: { schedule: '* * * * * *', tasks: [{ id: 'a', operator: 'command' }], gate: { kafka_healthy: true } } } });
    const engine = createEngine({
      config: { file: '/tmp/x.yaml', config, variables: {} },
      db,
      logger: silentLogger,
      operators: { command: async () => ({}) },
      kafka: { brokers: ['127.0.0.1:1'], clientId: 'test' },
    });
    cleanups.push(() => engine.close());
    await engine.start();
    await new Promise((r) => setTimeout(r, 6_000));
    const runs = engine.store.listRuns({ pipeline: 'gated' });
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.every((r) => r.state === 'skipped')).toBe(true);
    expect(runs[0]!.reason).toMatch(/^gate: Kafka is unhealthy \(no broker answered/);
  }, 30_000);
});
