/** The schema_registry check against the real local registry (Confluent API) and Kafka. */
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Admin, Producer } from 'kafkajs';
import { ensureServices, kafkaClient, endpoints, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { freshTopic } from '../../helpers/names';
import { createSchemaRegistryCheck } from '../../../checks/schema-registry';
import type { ProbeContext, SchemaRegistryFacts } from '../../../src/protocol';
const ctx = (): ProbeContext => ({ signal: AbortSignal.timeout(30_000), now: () => Date.now() });
const brokers = endpoints.kafkaBrokers.slice();

let admin: Admin;
let producer: Producer;
let registry: SchemaRegistry;

beforeAll(async () => {
  await ensureServices(['kafka', 'schema-registry']);
  const kafka = kafkaClient('schema-test');
  admin = kafka.admin();
  producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
}, STACK_TIMEOUT_MS);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
});

const schema = (name: string) =>
  JSON.stringify({
    type: 'record',
    name,
    namespace: 'test.supervisor',
    fields: [
      { name: 'domain', type: 'string' },
      { name: 'ingested_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ],
  });

describe('schema_registry check on the real registry', () => {
  it('finds the subject of a topic with its latest version and id; a missing one is crit', async () => {
    const topic = freshTopic('sr');
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: schema('Rec1') }, { subject: `${topic}-value` });
    const check = createSchemaRegistryCheck({ name: 'registry', options: { url: endpoints.schemaRegistryUrl, topics: [topic] } });
    const [ok] = await check.probe(ctx());
    expect(ok).toMatchObject({ status: 'ok', kind: 'schema_registry' });
    const facts = ok!.facts as SchemaRegistryFacts;
    expect(facts.reachable).toBe(true);
    expect(facts.subjects).toEqual([{ subject: `${topic}-value`, exists: true, latestVersion: 1, schemaId: id }]);

    const other = freshTopic('sr-missing');
    const missingCheck = createSchemaRegistryCheck({ name: 'registry', options: { url: endpoints.schemaRegistryUrl, topics: [topic, other] } });
    const [bad] = await missingCheck.probe(ctx());
    expect(bad!.status).toBe('crit');
    expect(bad!.summary).toContain(`missing subjects: ${other}-value`);
  });

  it('reports an unreachable registry as crit with SUP_ERR_SCHEMA_REGISTRY', async () => {
    const check = createSchemaRegistryCheck({ name: 'registry', options: { url: 'http://127.0.0.1:1/apis/ccompat/v7', topics: ['x'] } });
    const [s] = await check.probe(ctx());
    expect(s).toMatchObject({ status: 'crit', error: { code: 'SUP_ERR_SCHEMA_REGISTRY' } });
    expect((s!.facts as SchemaRegistryFacts).reachable).toBe(false);
  });

  it('decodes the newest record through the registry and reports its event-time age', async () => {
    const topic = freshTopic('sr-fresh');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: schema('Rec2') }, { subject: `${topic}-value` });
    const old = Date.now() - 3_600_000;
    const recent = Date.now() - 90_000;
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: await registry.encode(id, { domain: 'a.example', ingested_at: old }) },
        { partition: 1, value: await registry.encode(id, { domain: 'b.example', ingested_at: old }) },
        { partition: 1, value: await registry.encode(id, { domain: 'c.example', ingested_at: recent }) },
      ],
    });
    const options = { url: endpoints.schemaRegistryUrl, topics: [topic], freshness: { brokers, topic, field: 'ingested_at', maxAge: '10m' } };
    const [fresh] = await createSchemaRegistryCheck({ name: 'registry', options }).probe(ctx());
    expect(fresh!.status).toBe('ok');
    expect(fresh!.value).toBeGreaterThanOrEqual(89);
    expect(fresh!.value).toBeLessThan(150);
    expect((fresh!.facts as SchemaRegistryFacts).eventAgeSeconds?.[topic]).toBe(fresh!.value);

    const [stale] = await createSchemaRegistryCheck({ name: 'registry', options: { ...options, freshness: { ...options.freshness, maxAge: '30s' } } }).probe(ctx());
    expect(stale!.status).toBe('warn');
    expect(stale!.summary).toMatch(/newest .* event is \d+ s old \(max 30 s\)/);
  });
});
