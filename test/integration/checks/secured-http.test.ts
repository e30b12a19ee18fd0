/**
 * The HTTP services through the local stack's secured edge (nginx with the stack's CA): the
 * schema_registry check and the offsets trigger's decoder behind basic auth and a bearer token,
 * delta_freshness over S3 with TLS, the spark check on the master behind basic auth and on a
 * driver behind an X-Api-Key header. Each also refuses clearly: a wrong password is named as
 * refused credentials, a CA that signed nothing as an untrusted certificate of host:port.
 */
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Admin, Producer } from 'kafkajs';
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { createDeltaFreshnessCheck, type DeltaFreshnessCheck } from '../../../checks/delta-freshness';
import { createSchemaRegistryCheck } from '../../../checks/schema-registry';
import { createSparkCheck, sparkJobTask, type SparkCheck } from '../../../checks/spark';
import { configSchema } from '../../../src/config/schema';
import type { CheckProbe, DeltaFacts, ProbeContext, SchemaRegistryFacts, Signal, SparkFacts } from '../../../src/protocol';
import { systemClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { createCheckProbes } from '../../../src/wiring/probes';
import { schemaRegistryConnection } from '../../../src/wiring/check-options';
import { lazySchemaRegistryDecoder } from '../../../src/shared/schema-registry-decoder';
import { createOffsetsTrigger$ } from '../../../streams/offsets-trigger';
import { secured } from '../../../stack/endpoints';
import { stackTls } from '../../../stack/tls';
import { commits, putCommits } from '../../helpers/delta-writer';
import { freshGroup, freshName, freshTopic } from '../../helpers/names';
import { STACK_TIMEOUT_MS, endpoints, ensureServices, kafkaClient, s3Client } from '../../helpers/stack';

const tls = stackTls();
const ctx = (): ProbeContext => ({ signal: AbortSignal.timeout(30_000), now: () => Date.now() });
const hostOf = (url: string) => new URL(url).host;
const basicUrl = endpoints.edgeRegistryBasicUrl;
const bearerUrl = endpoints.edgeRegistryBearerUrl;

let admin: Admin;
let producer: Producer;
let registry: SchemaRegistry;
let client: S3Client;
const probes: CheckProbe[] = [];
const prefixes: string[] = [];
const tmpDirs: string[] = [];

beforeAll(async () => {
  await ensureServices(['kafka', 'schema-registry', 's3', 'spark-master', 'spark-worker', 'edge']);
  const kafka = kafkaClient('secured-http-test');
  admin = kafka.admin();
  producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
  client = s3Client();
}, STACK_TIMEOUT_MS);

afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => (p.close ? p.close() : Promise.resolve())));
});

afterAll(async () => {
  for (const prefix of prefixes) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: endpoints.s3Bucket, Prefix: `${prefix}/` })).catch(() => null);
    const keys = (page?.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: endpoints.s3Bucket, Delete: { Objects: keys, Quiet: true } })).catch(() => undefined);
  }
  client?.destroy();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  await producer?.disconnect();
  await admin?.disconnect();
});

function track<T extends CheckProbe>(p: T): T {
  probes.push(p);
  return p;
}

async function one(p: CheckProbe): Promise<Signal> {
  const [s] = await p.probe(ctx());
  return s!;
}

function secretFile(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secured-http-'));
  tmpDirs.push(dir);
  const file = path.join(dir, 'secret');
  fs.writeFileSync(file, `${content}\n`);
  return file;
}

const avro = (name: string) =>
  JSON.stringify({
    type: 'record',
    name,
    namespace: 'test.secured',
    fields: [
      { name: 'source_name', type: 'string' },
      { name: 'requested_by', type: 'string' },
    ],
  });

describe('schema registry through the secured edge', () => {
  it('the check is green through basic auth and through a bearer token, with the stack CA', async () => {
    const topic = freshTopic('sec-sr');
    await registry.register({ type: SchemaType.AVRO, schema: avro('Basic') }, { subject: `${topic}-value` });
    const viaBasic = track(
      createSchemaRegistryCheck({
        name: 'reg',
        options: { url: basicUrl, auth: { username: secured.registryUser, password: secured.registryPassword }, caFile: tls.caFile, topics: [topic] },
      }),
    );
    const basic = await one(viaBasic);
    expect(basic).toMatchObject({ status: 'ok', target: basicUrl });
    expect((basic.facts as SchemaRegistryFacts).subjects).toEqual([expect.objectContaining({ subject: `${topic}-value`, exists: true })]);

    const viaBearer = track(createSchemaRegistryCheck({ name: 'reg', options: { url: bearerUrl, token: secured.registryToken, caFile: tls.caFile, topics: [topic] } }));
    expect(await one(viaBearer)).toMatchObject({ status: 'ok', target: bearerUrl });
  });

  it('from the config: password_file and token_file, ca_file inherited from connections.schema_registry', async () => {
    const topic = freshTopic('sec-sr-cfg');
    await registry.register({ type: SchemaType.AVRO, schema: avro('Cfg') }, { subject: `${topic}-value` });
    const config = configSchema.parse({
      connections: { schema_registry: { url: basicUrl, username: secured.registryUser, password_file: secretFile(secured.registryPassword), ca_file: tls.caFile } },
      checks: {
        basic: { kind: 'schema_registry', topics: [topic] },
        // its own registry and auth kind: the inherited basic auth is dropped, the CA kept
        bearer: { kind: 'schema_registry', url: bearerUrl, token_file: secretFile(secured.registryToken), topics: [topic] },
      },
    });
    const [basic, bearer] = createCheckProbes({ config, logger: silentLogger, clock: systemClock }).map(track);
    expect(await one(basic!)).toMatchObject({ status: 'ok', check: 'basic' });
    expect(await one(bearer!)).toMatchObject({ status: 'ok', check: 'bearer' });
  });

  it('a wrong password or token is named as refused credentials (unknown), with the URL', async () => {
    const wrong = track(createSchemaRegistryCheck({ name: 'reg', options: { url: basicUrl, auth: { username: secured.registryUser, password: 'wrong' }, caFile: tls.caFile } }));
    const s = await one(wrong);
    expect(s.status).toBe('unknown');
    expect(s.summary).toContain(`schema registry refused the credentials: 401 Unauthorized from ${basicUrl}/subjects`);
    expect(s.error).toMatchObject({ code: 'SUP_ERR_SCHEMA_REGISTRY' });
    const none = track(createSchemaRegistryCheck({ name: 'reg', options: { url: bearerUrl, token: 'wrong', caFile: tls.caFile } }));
    expect((await one(none)).summary).toContain('401 Unauthorized');
  });

  it('a CA that signed nothing, or no CA, is a certificate problem of host:port; a wrong server name names the certificate names', async () => {
    const otherCa = track(createSchemaRegistryCheck({ name: 'reg', options: { url: bearerUrl, token: secured.registryToken, caFile: tls.otherCaFile } }));
    const s = await one(otherCa);
    expect(s.status).toBe('unknown');
    expect(s.summary).toContain(`TLS: the certificate of ${hostOf(bearerUrl)} is not trusted (unable to verify the first certificate): set ca_file to the CA that signed it`);
    const noCa = track(createSchemaRegistryCheck({ name: 'reg', options: { url: bearerUrl, token: secured.registryToken } }));
    expect((await one(noCa)).summary).toContain(`TLS: the certificate of ${hostOf(bearerUrl)} is not trusted`);
    const wrongName = track(createSchemaRegistryCheck({ name: 'reg', options: { url: bearerUrl, token: secured.registryToken, caFile: tls.caFile, servername: 'wrong.example' } }));
    expect((await one(wrongName)).summary).toContain(`TLS: the certificate of ${hostOf(bearerUrl)} is for 127.0.0.1, localhost, not wrong.example`);
  });

  it('the offsets trigger decodes Avro records through the authenticated registry', async () => {
    const topic = freshTopic('sec-offsets');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: avro('IngestRequest') }, { subject: `${topic}-value` });
    const config = configSchema.parse({ connections: { schema_registry: { url: bearerUrl, token: secured.registryToken, ca_file: tls.caFile } } });
    const groupId = freshGroup('secured-offsets');
    const triggers = firstValueFrom(
      createOffsetsTrigger$({
        pipeline: 'p',
        topic,
        decode: 'schema_registry',
        batchWindowMs: 500,
        maxBatch: 100,
        brokers: endpoints.kafkaBrokers.slice(),
        clientId: 'test',
        schemaRegistry: schemaRegistryConnection(config.connections),
        groupId,
        clock: systemClock,
        retryMs: 500,
      }).pipe(take(1), timeout(40_000), toArray()),
    );
    // the consumer joins and sits at the end of the topic before anything is produced
    await new Promise((r) => setTimeout(r, 6_000));
    await producer.send({ topic, messages: [{ key: 'r1', value: await registry.encode(id, { source_name: 'malware-hosts', requested_by: 'alice' }) }] });
    const [t] = await triggers;
    expect(t!.params).toMatchObject({ source_name: 'malware-hosts', requested_by: 'alice', topic });
    // the trigger's consumer leaves its group after the unsubscribe (its disconnect is not awaited):
    // wait for it, so kafkajs does not load its LeaveGroup request after the test environment is gone
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const state = (await admin.describeGroups([groupId])).groups[0]?.state;
      if (state === 'Empty' || state === 'Dead') break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 60_000);

  it('the decoder names refused credentials and an untrusted certificate', async () => {
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: avro('DecoderErrors') }, { subject: `${freshTopic('sec-dec')}-value` });
    const value = await registry.encode(id, { source_name: 'a', requested_by: 'b' });
    await expect(lazySchemaRegistryDecoder({ url: bearerUrl, token: 'wrong', tls: { caFile: tls.caFile } }).decode(value)).rejects.toThrow(
      `schema registry refused the credentials: 401 Unauthorized from ${bearerUrl}/schemas/ids/${id}`,
    );
    await expect(lazySchemaRegistryDecoder({ url: bearerUrl, token: secured.registryToken, tls: { caFile: tls.otherCaFile } }).decode(value)).rejects.toThrow(
      `TLS: the certificate of ${hostOf(bearerUrl)} is not trusted (unable to verify the first certificate)`,
    );
    await expect(
      lazySchemaRegistryDecoder({ url: basicUrl, auth: { username: secured.registryUser, password: secured.registryPassword }, tls: { caFile: tls.caFile } }).decode(value),
    ).resolves.toEqual({
      source_name: 'a',
      requested_by: 'b',
    });
  });
});

describe('S3 through the TLS edge', () => {
  const s3 = {
    endpoint: endpoints.edgeS3Endpoint,
    region: endpoints.s3Region,
    accessKeyId: endpoints.s3AccessKeyId,
    secretAccessKey: endpoints.s3SecretAccessKey,
  };
  const make = (prefix: string, extra: Record<string, unknown>): DeltaFreshnessCheck =>
    track(createDeltaFreshnessCheck({ name: 'bronze', options: { path: `s3a://${endpoints.s3Bucket}/${prefix}`, maxAge: 1800, s3: { ...s3, ...extra } } }));

  it('delta_freshness reads the table with ca_file; a wrong CA is named as a certificate problem', async () => {
    const prefix = `it-secured/${freshName('delta')}`;
    prefixes.push(prefix);
    await putCommits(client, endpoints.s3Bucket, prefix, [
      { version: 0, actions: commits.create() },
      { version: 1, actions: commits.write() },
    ]);
    const ok = await one(make(prefix, { caFile: tls.caFile }));
    expect(ok.status).toBe('ok');
    expect(ok.facts as DeltaFacts).toMatchObject({ version: 1 });

    const wrong = await one(make(prefix, { caFile: tls.otherCaFile }));
    expect(wrong.status).toBe('unknown');
    expect(wrong.summary).toContain(`TLS: the certificate of ${hostOf(endpoints.edgeS3Endpoint)} is not trusted (unable to verify the first certificate)`);
  });
});

describe('Spark through the secured edge', () => {
  let fakeDriver: http.Server | null = null;
  const query = freshName('q').replace(/-/g, '_');

  beforeAll(async () => {
    // The driver edge proxies to 127.0.0.1:4040 (the driver UI port): a metrics servlet answering
    // there in Prometheus text, unless a real driver already holds the port.
    const server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(
        [
          `metrics_app_driver_spark_streaming_${query}_inputRate_total_Value{type="gauges"} 5.0`,
          `metrics_app_driver_spark_streaming_${query}_processingRate_total_Value{type="gauges"} 6.0`,
          `metrics_app_driver_spark_streaming_${query}_latency_Value{type="gauges"} 120`,
          '',
        ].join('\n'),
      );
    });
    const listened = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(Number(new URL(endpoints.sparkDriverUi).port), '127.0.0.1', () => resolve(true));
    });
    fakeDriver = listened ? server : null;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (fakeDriver ? fakeDriver.close(() => resolve()) : resolve()));
  });

  const master = { username: secured.sparkUser, password: secured.sparkPassword };
  const make = (options: Record<string, unknown>): SparkCheck =>
    track(createSparkCheck({ name: 'spark', options: { masterUrl: endpoints.edgeSparkMasterUi, expectedWorkers: 1, noAppsStatus: 'ok', caFile: tls.caFile, ...options } }));

  it('the master answers through basic auth with the stack CA; a wrong password is named as refused credentials', async () => {
    const ok = await one(make({ auth: master, apps: [] }));
    expect((ok.facts as SparkFacts).masterStatus).toBe('ALIVE');
    expect(ok.summary).not.toMatch(/refused|TLS/);

    const wrong = await one(make({ auth: { ...master, password: 'wrong' } }));
    expect(wrong.status).toBe('unknown');
    expect(wrong.summary).toContain(`the Spark master refused the credentials: 401 Unauthorized from ${endpoints.edgeSparkMasterUi}/json/`);

    const otherCa = await one(make({ auth: master, caFile: tls.otherCaFile }));
    expect(otherCa.status).toBe('unknown');
    expect(otherCa.summary).toContain(`TLS: the certificate of ${hostOf(endpoints.edgeSparkMasterUi)} is not trusted`);
  });

  it('the spark_job task (SparkJobCheckOperator) reaches the master edge with the connection settings', async () => {
    const signal = await sparkJobTask({ spark_master: endpoints.edgeSparkMasterUi, connection: { auth: master, caFile: tls.caFile } }, ctx());
    expect((signal.facts as SparkFacts).masterStatus).toBe('ALIVE');
    const refused = await sparkJobTask({ spark_master: endpoints.edgeSparkMasterUi, connection: { caFile: tls.caFile } }, ctx());
    expect(refused.summary).toContain('the Spark master refused the credentials: 401 Unauthorized');
  });

  it('the driver metrics come through the driver edge with its X-Api-Key header (the master keeps basic auth)', async () => {
    const driverMetricsUrl = `${endpoints.edgeSparkDriverUi}/metrics/prometheus`;
    const ok = await one(make({ auth: master, driverMetricsUrl, driver: { headers: { 'X-Api-Key': secured.sparkApiKey } } }));
    expect(ok.summary).not.toMatch(/refused|TLS|did not answer/);
    expect((ok.facts as SparkFacts).queries).toBeDefined();
    if (fakeDriver) expect((ok.facts as SparkFacts).queries!.map((q) => q.name)).toEqual([query]);
    expect(ok.status).toBe('ok');

    const noKey = await one(make({ auth: master, driverMetricsUrl, driver: { headers: { 'X-Api-Key': 'wrong' } } }));
    expect(noKey.status).toBe('unknown');
    expect(noKey.summary).toContain(`the Spark driver refused the credentials: 401 Unauthorized from ${driverMetricsUrl}`);
  });
});
