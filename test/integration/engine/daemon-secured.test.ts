/**
 * The whole daemon with `connections.kafka` pointed at the stack's SASL_SSL listener (CA file,
 * SCRAM-SHA-512 with the password from a file): the kafka_cluster check, the consumer_lag
 * check fed by the `__consumer_offsets` stream, the lag and offsets triggers and the kafka_health
 * task all work through it — nothing connects in plain text — and `config show`'s redaction hides the password.
 * The registry is the stack's TLS edge with a bearer token from a file: the offsets trigger decodes
 * its Avro records through `connections.schema_registry`.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Admin, Producer } from 'kafkajs';
import { redactConfig } from '../../../src/config/redact';
import { createDaemon, type Daemon } from '../../../src/daemon';
import type { Signal } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { secured } from '../../../stack/endpoints';
import { stackTls } from '../../../stack/tls';
import { freshGroup, freshName, freshTopic } from '../../helpers/names';
import { endpoints, ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../../helpers/stack';

const tls = stackTls();
let dir: string;
let daemon: Daemon | undefined;
let admin: Admin;
let producer: Producer;
const topic = freshTopic('daemon-secured');
const group = freshGroup('daemon-secured');
const pipeline = freshName('secured_pipe').replace(/[^A-Za-z0-9_]/g, '_');

beforeAll(async () => {
  await ensureServices(['kafka', 'schema-registry']);
  const kafka = kafkaClient('daemon-secured-test');
  admin = kafka.admin();
  producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await producer.send({ topic, messages: [{ key: 'a', value: '{}' }] });
  await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '1' }] });
}, STACK_TIMEOUT_MS);

afterAll(async () => {
  await daemon?.stop();
  // the offsets trigger's consumer leaves its group after the stop (its disconnect is not awaited)
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const state = (await admin.describeGroups([`supervisor-trigger.${pipeline}`]).catch(() => null))?.groups[0]?.state;
    if (state === undefined || state === 'Empty' || state === 'Dead') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.deleteGroups([group, `supervisor-trigger.${pipeline}`]).catch(() => undefined);
  await producer?.disconnect();
  await admin?.disconnect();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms${last ? ` (${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('daemon with connections.kafka on the SASL_SSL listener', () => {
  it('every Kafka part is healthy: cluster check, lag from the offsets stream, lag and offsets triggers', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daemon-secured-'));
    const passwordFile = path.join(dir, 'kafka-password');
    fs.writeFileSync(passwordFile, `${secured.kafkaPassword}\n`, { mode: 0o600 });
    const tokenFile = path.join(dir, 'registry-token');
    fs.writeFileSync(tokenFile, `${secured.registryToken}\n`, { mode: 0o600 });
    // the schema is registered through the plain registry; the daemon reads it through the edge
    const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
    const { id: schemaId } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify({ type: 'record', name: 'IngestRequest', namespace: 'test.secured', fields: [{ name: 'source_name', type: 'string' }] }) },
      { subject: `${topic}-value` },
    );
    const configFile = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(
      configFile,
      `
store: { path: ${JSON.stringify(path.join(dir, 'supervisor.db'))} }
logging: { level: silent }
connections:
  kafka:
    brokers: ${endpoints.kafkaSaslSslBrokers.join(',')}
    ssl: { ca_file: ${JSON.stringify(tls.caFile)} }
    sasl: { mechanism: scram-sha-512, username: "\${KAFKA_USER}", password_file: ${JSON.stringify(passwordFile)} }
  schema_registry:
    url: ${endpoints.edgeRegistryBearerUrl}
    token_file: ${JSON.stringify(tokenFile)}
    ca_file: ${JSON.stringify(tls.caFile)}
checks:
  kafka: { kind: kafka_cluster, interval: 2s, topics: [${topic}] }
  lag: { kind: consumer_lag, interval: 2s, groups: [${group}], offset_source: consumer_offsets }
pipelines:
  ${pipeline}:
    triggers:
      - { type: offsets, topic: ${topic}, decode: schema_registry, batch_window: 200ms }
      - { type: lag, group: ${group}, topic: ${topic}, max_lag: 0, for: 1s, cooldown: 1h }
    tasks:
      - { id: check_kafka_health, operator: kafka_health, params: { topics: [${topic}] } }
`,
    );
    daemon = await createDaemon({ configFile, env: { KAFKA_USER: secured.kafkaUser }, logger: silentLogger, port: 0 });
    await daemon.start();
    const d = daemon;

    const ok = (check: string): Signal | undefined => d.signals().find((s) => s.check === check && s.status === 'ok');
    const cluster = await waitFor('kafka_cluster ok', () => ok('kafka'));
    expect(cluster.summary).not.toMatch(/unreachable|authentication/i);
    const lag = await waitFor('consumer_lag ok for the group', () => d.signals().find((s) => s.check === 'lag' && s.labels.group === group && s.status === 'ok'));
    expect(lag.value).toBe(0);

    // the lag trigger (through the lag source of the triggers and gates) fires: the group caught up
    // …and its kafka_health task (the seed's KafkaHealthCheckOperator) connects through SASL_SSL too
    const lagRun = await waitFor(
      'a lag-triggered run that succeeded',
      () => d.engine.store.listRuns({ pipeline }).find((r) => r.kind === 'lag' && (r.state === 'success' || r.state === 'failed')),
      30_000,
    );
    expect({ state: lagRun.state, task: d.engine.store.getTask(lagRun.id, 'check_kafka_health')?.reason ?? null }).toEqual({ state: 'success', task: null });
    // the offsets trigger's consumer joins through SASL_SSL, then a new record fires a run
    await waitFor(
      'the offsets trigger group is stable',
      async () => ((await admin.describeGroups([`supervisor-trigger.${pipeline}`])).groups[0]?.state === 'Stable' ? true : undefined),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    await producer.send({ topic, messages: [{ key: 'b', value: await registry.encode(schemaId, { source_name: 'malware-hosts' }) }] });
    const run = await waitFor('an offsets-triggered run', () => d.engine.store.listRuns({ pipeline }).find((r) => r.kind === 'offsets'), 30_000);
    expect(run.params).toMatchObject({ source_name: 'malware-hosts', topic });

    // what `config show` and the API print: the password read from the file stays hidden
    const shown = JSON.stringify(redactConfig(d.config.config));
    expect(shown).not.toContain(secured.kafkaPassword);
    expect(shown).not.toContain(secured.registryToken);
    expect(shown).toContain(passwordFile);
  }, 120_000);
});
