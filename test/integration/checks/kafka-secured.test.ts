/**
 * Every Kafka client of the supervisor through the stack's secured edge, configured the way a
 * user writes it (`connections.kafka` in YAML → the one connection definition): the
 * kafka_cluster and consumer_lag checks over SASL_SSL (SCRAM-SHA-512, PLAIN, OAUTHBEARER) and
 * mutual TLS (plain and encrypted key); the clear errors for a wrong password, an untrusted CA,
 * a wrong server name, a missing client certificate, a wrong OAuth client secret and a refused
 * token; OAUTHBEARER tokens refreshed before they expire; the `__consumer_offsets` stream, the
 * lag source and the offsets trigger over SASL_SSL.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, type Admin, type Producer } from 'kafkajs';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { createConsumerLagCheck } from '../../../checks/consumer-lag';
import { createKafkaClusterCheck } from '../../../checks/kafka-cluster';
import { createSchemaRegistryCheck } from '../../../checks/schema-registry';
import { configSchema } from '../../../src/config/schema';
import { SupervisorError, type CheckProbe, type Logger, type SchemaRegistryFacts, type Signal } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { systemClock } from '../../../src/shared/clock';
import { resolveKafkaConnection, kafkaClientConfig, type KafkaConnection } from '../../../src/shared/kafka-connection';
import { kafkaConnectionSettings, resolveCheck } from '../../../src/wiring/check-options';
import { createConsumerOffsets$ } from '../../../streams/consumer-offsets';
import { createOffsetsTrigger$ } from '../../../streams/offsets-trigger';
import { createKafkaAdminSource } from '../../../streams/trigger-kafka';
import { runOnce } from '../../../streams/check-scheduler';
import { secured } from '../../../stack/endpoints';
import { stackTls } from '../../../stack/tls';
import { freshGroup, freshTopic } from '../../helpers/names';
import { endpoints, ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../../helpers/stack';

const tls = stackTls();
const saslSsl = endpoints.kafkaSaslSslBrokers.join(',');
const mtls = endpoints.kafkaMtlsBrokers.join(',');
const saslBroker = endpoints.kafkaSaslSslBrokers[0];
const scram512 = { mechanism: 'scram-sha-512', username: secured.kafkaUser, password: secured.kafkaPassword };
const oauth = (url: string = endpoints.oidcTokenUrl, secret = secured.oidcClientSecret) => ({
  mechanism: 'oauthbearer',
  token_endpoint_url: url,
  client_id: secured.oidcClientId,
  client_secret: secret,
  scope: 'kafka',
});

/** `connections.kafka` as YAML would give it, through the config schema. */
const connectionsOf = (kafka: Record<string, unknown>) => configSchema.parse({ connections: { kafka: { connection_timeout: '3s', ...kafka } } }).connections;

/** A check of `kind` built exactly as the daemon builds it from the config. */
function checkFrom(kind: 'kafka_cluster' | 'consumer_lag', kafka: Record<string, unknown>, own: Record<string, unknown> = {}, logger: Logger = silentLogger): CheckProbe {
  const { check, issues } = resolveCheck('kafka', { kind, enabled: true, ...own }, connectionsOf(kafka));
  if (!check) throw new Error(issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const params = { name: 'kafka', options: check.options as never, logger, timeoutMs: check.timeoutMs };
  return kind === 'kafka_cluster' ? createKafkaClusterCheck(params) : createConsumerLagCheck(params);
}

const probes: CheckProbe[] = [];
async function runCheck(kind: 'kafka_cluster' | 'consumer_lag', kafka: Record<string, unknown>, own: Record<string, unknown> = {}, logger?: Logger): Promise<Signal[]> {
  const probe = checkFrom(kind, kafka, own, logger);
  probes.push(probe);
  return runOnce(probe, { signal: new AbortController().signal, timeoutMs: 10_000 });
}

async function oidcStats(): Promise<{ issued: number; refused: number }> {
  const res = await fetch(endpoints.oidcTokenUrl.replace(/\/token$/, '/api/stats'));
  return (await res.json()) as { issued: number; refused: number };
}

/** A logger that keeps every line (to count kafkajs's authentication attempts and look for secrets). */
function capturingLogger(): Logger & { lines: Array<{ level: string; msg: string; fields: unknown }> } {
  const lines: Array<{ level: string; msg: string; fields: unknown }> = [];
  const make = (): Logger => {
    const log = (level: string) => (a: unknown, b?: unknown) =>
      lines.push({ level, msg: typeof a === 'string' ? a : typeof b === 'string' ? b : '', fields: typeof a === 'string' ? undefined : a });
    return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), fatal: log('fatal'), child: () => make() } as unknown as Logger;
  };
  return Object.assign(make(), { lines });
}

let plainAdmin: Admin;
let producer: Producer;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  await ensureServices(['kafka', 'schema-registry', 'oidc']);
  const kafka = kafkaClient('kafka-secured-test');
  plainAdmin = kafka.admin();
  producer = kafka.producer();
  await plainAdmin.connect();
  await producer.connect();
}, STACK_TIMEOUT_MS);

afterEach(async () => {
  await Promise.allSettled(probes.splice(0).map(async (p) => p.close?.()));
  for (const c of cleanups.splice(0)) await c().catch(() => undefined);
});

afterAll(async () => {
  await producer?.disconnect();
  await plainAdmin?.disconnect();
});

/** Waits until a stream's consumer has left its group (its disconnect runs after the unsubscribe, unawaited). */
async function groupLeft(groupId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const state = (await plainAdmin.describeGroups([groupId])).groups[0]?.state;
    if (state === 'Empty' || state === 'Dead') return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function topicWithCommit(messages: number, committed: number): Promise<{ topic: string; group: string }> {
  const topic = freshTopic('secured');
  const group = freshGroup('secured');
  await plainAdmin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  cleanups.push(() => plainAdmin.deleteTopics({ topics: [topic] }));
  await producer.send({ topic, messages: Array.from({ length: messages }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  await plainAdmin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: String(committed) }] });
  cleanups.push(() => plainAdmin.deleteGroups([group]));
  return { topic, group };
}

describe('kafka_cluster and consumer_lag through the secured edge', () => {
  it.each([
    ['SASL_SSL SCRAM-SHA-512', { brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: scram512 }],
    ['SASL_SSL SCRAM-SHA-256', { brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: { ...scram512, mechanism: 'scram-sha-256' } }],
    ['SASL_SSL PLAIN', { brokers: saslSsl, ssl: { ca_file: tls.caFile, servername: 'localhost' }, sasl: { ...scram512, mechanism: 'plain' } }],
    ['SASL_SSL OAUTHBEARER', { brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: oauth() }],
    ['mutual TLS', { brokers: mtls, ssl: { ca_file: tls.caFile, cert_file: tls.clientCertFile, key_file: tls.clientKeyFile } }],
    [
      'mutual TLS, encrypted key',
      { brokers: mtls, ssl: { ca_file: tls.caFile, cert_file: tls.clientCertFile, key_file: tls.clientKeyEncryptedFile, key_password: tls.clientKeyPassword } },
    ],
  ])(
    '%s: the cluster check is ok and consumer lag reads the group',
    async (_label, kafka) => {
      const [cluster] = await runCheck('kafka_cluster', kafka);
      expect({ status: cluster!.status, summary: cluster!.summary, error: cluster!.error }).toMatchObject({ status: 'ok' });
      expect(cluster!.value).toBe(1);
      const { topic, group } = await topicWithCommit(10, 4);
      const lag = await runCheck('consumer_lag', kafka, { groups: [group], offset_source: 'admin' });
      const mine = lag.find((s) => s.labels.group === group);
      expect(mine).toMatchObject({ status: 'ok', value: 6 });
      expect(mine!.labels).toMatchObject({ group });
      expect(topic).toBeTruthy();
    },
    60_000,
  );

  it('a wrong SCRAM password is `unknown` naming the authentication failure, with one attempt per run (no retries)', async () => {
    const logger = capturingLogger();
    const kafka = { brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: { ...scram512, password: 'wrong-password' } };
    const [signal] = await runCheck('kafka_cluster', kafka, {}, logger);
    expect(signal!.status).toBe('unknown');
    expect(signal!.error).toMatchObject({ code: 'SUP_ERR_KAFKA_AUTH' });
    expect(signal!.summary).toMatch(/authentication failed \(SASL SCRAM-SHA-512 as supervisor\): invalid credentials/);
    // kafkajs logs each failed SASL handshake once: one per run, not a retry storm
    const attempts = logger.lines.filter((l) => /^SaslAuthenticator/.test(String((l.fields as { kafkajs?: string } | undefined)?.kafkajs)) && /authentication failed/i.test(l.msg));
    expect(attempts).toHaveLength(1);
    expect(JSON.stringify(logger.lines)).not.toContain('wrong-password');
    expect(JSON.stringify(signal)).not.toContain('wrong-password');
  }, 30_000);

  it("the triggers' and gates' Kafka client recovers when the credentials work again, without a restart", async () => {
    let tokenEndpointDown = true;
    const connection = resolveKafkaConnection(
      {
        brokers: endpoints.kafkaSaslSslBrokers,
        ssl: { caFile: tls.caFile },
        sasl: { mechanism: 'oauthbearer', tokenEndpointUrl: endpoints.oidcTokenUrl, clientId: secured.oidcClientId, clientSecret: secured.oidcClientSecret, scope: 'kafka' },
      },
      'connections.kafka',
      {
        // the identity provider refuses at first (a rotated secret not yet rolled out), then answers
        fetchToken: async (req) => {
          if (tokenEndpointDown)
            throw new SupervisorError('SUP_ERR_KAFKA_AUTH', `authentication failed (SASL OAUTHBEARER): the token endpoint ${req.url} answered 401: invalid_client`);
          const res = await fetch(req.url, {
            method: 'POST',
            headers: { authorization: `Basic ${Buffer.from(`${req.clientId}:${req.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
            body: 'grant_type=client_credentials&scope=kafka',
          });
          const body = (await res.json()) as { access_token: string; expires_in: number };
          return { accessToken: body.access_token, expiresIn: body.expires_in };
        },
      },
    );
    const source = createKafkaAdminSource({ connection });
    try {
      expect(await source.health()).toMatch(/answered 401/);
      tokenEndpointDown = false;
      expect(await source.health()).toBeNull();
    } finally {
      await source.close();
    }
  }, 30_000);

  it('an untrusted CA and a wrong server name name the certificate problem and the broker', async () => {
    const [untrusted] = await runCheck('kafka_cluster', { brokers: saslSsl, ssl: { ca_file: tls.otherCaFile }, sasl: scram512 });
    expect(untrusted).toMatchObject({ status: 'unknown', error: { code: 'SUP_ERR_KAFKA_TLS' } });
    expect(untrusted!.summary).toContain(`TLS: the certificate of ${saslBroker} is not trusted (unable to verify the first certificate): set ca_file to the CA that signed it`);
    const [wrongName] = await runCheck('kafka_cluster', { brokers: saslSsl, ssl: { ca_file: tls.caFile, servername: 'wrong.example' }, sasl: scram512 });
    expect(wrongName).toMatchObject({ status: 'unknown', error: { code: 'SUP_ERR_KAFKA_TLS' } });
    expect(wrongName!.summary).toContain(`TLS: the certificate of ${saslBroker} is for 127.0.0.1, localhost, not wrong.example`);
  }, 30_000);

  it('mutual TLS without a client certificate is named as the broker refusing the handshake', async () => {
    const [signal] = await runCheck('kafka_cluster', { brokers: mtls, ssl: { ca_file: tls.caFile } });
    expect(signal).toMatchObject({ status: 'unknown', error: { code: 'SUP_ERR_KAFKA_TLS' } });
    expect(signal!.summary).toMatch(
      new RegExp(`TLS: ${mtls.replace(/\./g, '\\.')} refused the handshake \\(.*(bad certificate|certificate required).*\\).*\\(client certificate required\\?\\)`),
    );
  }, 30_000);

  it("a wrong OAuth client secret names the token endpoint's 401, once per run", async () => {
    const before = await oidcStats();
    const [signal] = await runCheck('kafka_cluster', { brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: oauth(endpoints.oidcTokenUrl, 'wrong-secret') });
    expect(signal).toMatchObject({ status: 'unknown', error: { code: 'SUP_ERR_KAFKA_AUTH' } });
    expect(signal!.summary).toContain(`authentication failed (SASL OAUTHBEARER): the token endpoint ${endpoints.oidcTokenUrl} answered 401: invalid_client`);
    expect(signal!.summary).not.toContain('wrong-secret');
    expect((await oidcStats()).refused - before.refused).toBe(1);
  }, 30_000);
});

describe('OAUTHBEARER tokens', () => {
  it('refreshes a short-lived token before it expires: the check keeps working over three token lifetimes on its one connection', async () => {
    const before = (await oidcStats()).issued;
    const probe = checkFrom('kafka_cluster', { brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: oauth(`${endpoints.oidcTokenUrl}?lifetime=5`) });
    probes.push(probe);
    const statuses: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      if (i > 0) await new Promise((r) => setTimeout(r, 4_000));
      const [signal] = await runOnce(probe, { signal: new AbortController().signal, timeoutMs: 10_000 });
      statuses.push(`${signal!.status}${signal!.status === 'ok' ? '' : `: ${signal!.summary}`}`);
    }
    // 12 s of 5 s tokens: kafkajs re-authenticated with fresh tokens from the cache's refreshes
    expect(statuses).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect((await oidcStats()).issued - before).toBeGreaterThanOrEqual(2);
  }, 40_000);

  it('shares the cached token between clients within its life', async () => {
    const connection = resolveKafkaConnection(kafkaConnectionSettings(connectionsOf({ brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: oauth() })));
    for (let i = 0; i < 2; i += 1) {
      const admin = new Kafka(kafkaClientConfig(connection, { logLevel: 0, retry: { retries: 0 } })).admin();
      try {
        await admin.connect();
        expect((await admin.describeCluster()).brokers).toHaveLength(1);
      } finally {
        await admin.disconnect();
      }
    }
    expect(connection.tokens!.fetched).toBe(1);
  }, 30_000);

  it('a token the broker refuses is named as an authentication failure, not "No brokers in the broker pool"', async () => {
    const connection = resolveKafkaConnection(
      {
        brokers: endpoints.kafkaSaslSslBrokers,
        ssl: { caFile: tls.caFile },
        sasl: { mechanism: 'oauthbearer', tokenEndpointUrl: 'http://127.0.0.1:1/token', clientId: 'x', clientSecret: 'y' },
      },
      'connections.kafka',
      { fetchToken: () => Promise.resolve({ accessToken: 'not-a-jwt', expiresIn: 300 }) },
    );
    const source = createKafkaAdminSource({ connection });
    try {
      expect(await source.health()).toMatch(
        /^authentication failed \(SASL OAUTHBEARER, token from http:\/\/127\.0\.0\.1:1\/token\): .*closed the connection after the token was sent/,
      );
    } finally {
      await source.close();
    }
  }, 30_000);
});

describe('streams and triggers over SASL_SSL', () => {
  const connection = (): KafkaConnection => resolveKafkaConnection(kafkaConnectionSettings(connectionsOf({ brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: scram512 })));

  it('the __consumer_offsets stream sees a commit', async () => {
    const prefix = `${freshGroup('secured-offsets-stream')}-`;
    const stream$ = createConsumerOffsets$({ connection: connection(), clock: systemClock, retryDelayMs: 500, groupIdPrefix: prefix });
    const { group } = await topicWithCommit(3, 0);
    const seen = firstValueFrom(
      stream$.pipe(
        filter((e) => e.type === 'commit' && e.group === group && e.offset === 2),
        take(1),
        timeout(45_000),
      ),
    );
    // a commit made while the stream reads: it must arrive, whether replayed or live
    const [topic] = (await plainAdmin.fetchOffsets({ groupId: group })).map((t) => t.topic);
    await plainAdmin.setOffsets({ groupId: group, topic: topic!, partitions: [{ partition: 0, offset: '2' }] });
    await expect(seen).resolves.toMatchObject({ type: 'commit', group, topic, partition: 0, offset: 2 });
    const streamGroup = (await plainAdmin.listGroups()).groups.find((g) => g.groupId.startsWith(prefix))?.groupId;
    if (streamGroup) await groupLeft(streamGroup);
  }, 60_000);

  it('the lag source of the triggers and gates measures lag and health', async () => {
    const { topic, group } = await topicWithCommit(10, 7);
    const source = createKafkaAdminSource({ connection: connection() });
    try {
      expect(await source.health()).toBeNull();
      expect(await source.lag(group, topic)).toBe(3);
    } finally {
      await source.close();
    }
  }, 30_000);

  it('the offsets trigger fires on a produced message, decoded through the schema registry', async () => {
    const topic = freshTopic('secured-offsets');
    const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify({ type: 'record', name: 'IngestRequest', namespace: 'test', fields: [{ name: 'source_name', type: 'string' }] }) },
      { subject: `${topic}-value` },
    );
    await plainAdmin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    cleanups.push(() => plainAdmin.deleteTopics({ topics: [topic] }));
    const groupId = freshGroup('secured-offsets');
    cleanups.push(() => plainAdmin.deleteGroups([groupId]));
    const fired = firstValueFrom(
      createOffsetsTrigger$({
        pipeline: 'p',
        topic,
        decode: 'schema_registry',
        schemaRegistryUrl: endpoints.schemaRegistryUrl,
        batchWindowMs: 300,
        maxBatch: 10,
        connection: connection(),
        groupId,
        clock: systemClock,
        retryMs: 500,
      }).pipe(take(1), timeout(45_000)),
    );
    // produce once the trigger's group sits on the topic (it starts at the end)
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { groups } = await plainAdmin.describeGroups([groupId]);
      if (groups[0]?.state === 'Stable') break;
      if (Date.now() > deadline) throw new Error(`the trigger's group is ${groups[0]?.state ?? 'absent'} after 30 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 1_000)); // its first fetch positions it at the end
    await producer.send({ topic, messages: [{ key: 'r1', value: await registry.encode(id, { source_name: 'malware-hosts' }) }] });
    const t = await fired;
    expect(t).toMatchObject({ pipeline: 'p', kind: 'offsets', params: { source_name: 'malware-hosts', topic } });
    await groupLeft(groupId);
  }, 60_000);

  it("the schema_registry check's record sampling connects with connections.kafka and names a wrong password", async () => {
    const topic = freshTopic('secured-sample');
    const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify({ type: 'record', name: 'Sampled', namespace: 'test', fields: [{ name: 'ingested_at', type: 'long' }] }) },
      { subject: `${topic}-value` },
    );
    await plainAdmin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    cleanups.push(() => plainAdmin.deleteTopics({ topics: [topic] }));
    await producer.send({ topic, messages: [{ value: await registry.encode(id, { ingested_at: Date.now() - 60_000 }) }] });
    const registryCheck = (kafka: Record<string, unknown>): CheckProbe => {
      const own = { kind: 'schema_registry', enabled: true, url: endpoints.schemaRegistryUrl, topics: [topic], freshness: { topic, field: 'ingested_at', max_age: '10m' } };
      const { check, issues } = resolveCheck('registry', own as never, connectionsOf(kafka));
      if (!check) throw new Error(issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      const probe = createSchemaRegistryCheck({ name: 'registry', options: check.options as never, timeoutMs: check.timeoutMs });
      probes.push(probe);
      return probe;
    };
    const [ok] = await runOnce(registryCheck({ brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: scram512 }), { signal: new AbortController().signal, timeoutMs: 20_000 });
    expect(ok).toMatchObject({ status: 'ok' });
    expect((ok!.facts as SchemaRegistryFacts).eventAgeSeconds?.[topic]).toBeGreaterThanOrEqual(59);
    const [bad] = await runOnce(registryCheck({ brokers: saslSsl, ssl: { ca_file: tls.caFile }, sasl: { ...scram512, password: 'wrong' } }), {
      signal: new AbortController().signal,
      timeoutMs: 20_000,
    });
    expect(bad!.status).not.toBe('ok');
    expect(bad!.summary).toMatch(/authentication failed \(SASL SCRAM-SHA-512/);
  }, 60_000);
});
