import { createKafkaClusterCheck, kafkaClusterOptionsSchema, kafkaHealthTask, evaluateCluster } from '../../../checks/kafka-cluster';
import type { KafkaAdminApi } from '../../../checks/kafka-client';
import type { ProbeContext } from '../../../src/protocol';

type Partition = { partitionId: number; leader: number; replicas: number[]; isr: number[]; partitionErrorCode: number };
interface FakeCluster {
  up: boolean;
  brokers: number[];
  controller: number | null;
  topics: Record<string, Partition[]>;
}

function connectionError(): Error {
  const e = new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  e.name = 'KafkaJSConnectionError';
  return e;
}

function fakeAdminFactory(cluster: FakeCluster) {
  const stats = { created: 0, connects: 0, disconnects: 0 };
  const create = (): KafkaAdminApi => {
    stats.created += 1;
    let connected = false;
    const guard = (): void => {
      if (!cluster.up || !connected) throw connectionError();
    };
    const admin: Partial<KafkaAdminApi> = {
      connect: async () => {
        stats.connects += 1;
        if (!cluster.up) throw connectionError();
        connected = true;
      },
      disconnect: async () => {
        stats.disconnects += 1;
        connected = false;
      },
      describeCluster: async () => {
        guard();
        return { brokers: cluster.brokers.map((nodeId) => ({ nodeId, host: 'h', port: 9092 })), controller: cluster.controller, clusterId: 'test-cluster' };
      },
      fetchTopicMetadata: async () => {
        guard();
        return { topics: Object.entries(cluster.topics).map(([name, partitions]) => ({ name, partitions })) };
      },
    };
    return admin as KafkaAdminApi;
  };
  return { create, stats };
}

const ctx = (): ProbeContext => ({ signal: new AbortController().signal, now: () => 1_000 });
const healthyPartition = (id: number): Partition => ({ partitionId: id, leader: 1, replicas: [1, 2], isr: [1, 2], partitionErrorCode: 0 });

describe('kafka cluster options', () => {
  it('applies defaults and accepts a comma-separated broker string', () => {
    const o = kafkaClusterOptionsSchema.parse({ brokers: 'a:9092, b:9093' });
    expect(o).toMatchObject({ brokers: ['a:9092', 'b:9093'], clientId: 'pipeline-supervisor', expectedBrokers: 1, topics: [], connectionTimeout: 3000 });
    expect(kafkaClusterOptionsSchema.parse({ brokers: ['a:1'], requestTimeout: '2s' }).requestTimeout).toBe(2000);
  });

  it('rejects unknown keys, bad brokers and bad durations, naming the check', () => {
    expect(() => createKafkaClusterCheck({ name: 'kafka', options: { brokers: ['a:1'], expectedbrokers: 3 } as never })).toThrow(/check kafka: invalid kafka_cluster options/);
    const r = kafkaClusterOptionsSchema.safeParse({ brokers: 'nohostport', requestTimeout: 'soon' });
    expect(r.success).toBe(false);
    const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages.some((m) => m.startsWith('brokers.0: a broker is host:port'))).toBe(true);
    expect(messages.some((m) => m.includes('"soon" is not a duration'))).toBe(true);
  });
});

describe('kafka cluster check', () => {
  it('reports a healthy cluster', async () => {
    const cluster: FakeCluster = { up: true, brokers: [1, 2], controller: 1, topics: { raw: [healthyPartition(0), healthyPartition(1)], other: [healthyPartition(0)] } };
    const fake = fakeAdminFactory(cluster);
    const check = createKafkaClusterCheck({ name: 'kafka', options: { brokers: ['k:9092'], expectedBrokers: 2, topics: ['raw'] }, createAdmin: fake.create });
    const [s] = await check.probe(ctx());
    expect(s).toMatchObject({ check: 'kafka', kind: 'kafka_cluster', target: 'k:9092', status: 'ok', value: 2, threshold: 2 });
    expect(s!.facts).toEqual({
      kind: 'kafka_cluster',
      brokers: 2,
      expectedBrokers: 2,
      controllerId: 1,
      topics: 2,
      missingTopics: [],
      partitions: 3,
      offlinePartitions: 0,
      underReplicatedPartitions: 0,
    });
    await check.close!();
  });

  it('grades missing brokers, topics, leaders and replicas', async () => {
    const cluster: FakeCluster = {
      up: true,
      brokers: [1],
      controller: 1,
      topics: { raw: [healthyPartition(0), { ...healthyPartition(1), isr: [1] }] },
    };
    const fake = fakeAdminFactory(cluster);
    const check = createKafkaClusterCheck({ name: 'kafka', options: { brokers: ['k:9092'], expectedBrokers: 2, topics: ['raw'] }, createAdmin: fake.create });
    let [s] = await check.probe(ctx());
    expect(s!.status).toBe('warn');
    expect(s!.summary).toContain('1 of 2 brokers');
    expect(s!.summary).toContain('1 under-replicated partitions');

    cluster.topics.raw![0] = { ...healthyPartition(0), leader: -1, partitionErrorCode: 5 };
    [s] = await check.probe(ctx());
    expect(s!.status).toBe('crit');
    expect(s!.facts).toMatchObject({ offlinePartitions: 1, underReplicatedPartitions: 1 });

    cluster.topics = {};
    cluster.controller = null;
    [s] = await check.probe(ctx());
    expect(s!.status).toBe('crit');
    expect(s!.facts).toMatchObject({ missingTopics: ['raw'], controllerId: null });
    expect(s!.summary).toMatch(/no active controller.*missing topics: raw/);
    await check.close!();
  });

  it('keeps one admin between runs, reports an outage as crit and reconnects after it', async () => {
    const cluster: FakeCluster = { up: true, brokers: [1], controller: 1, topics: {} };
    const fake = fakeAdminFactory(cluster);
    const check = createKafkaClusterCheck({ name: 'kafka', options: { brokers: ['k:9092'] }, createAdmin: fake.create });
    await check.probe(ctx());
    await check.probe(ctx());
    expect(fake.stats.created).toBe(1);
    expect(fake.stats.connects).toBe(1);

    cluster.up = false;
    const [down] = await check.probe(ctx());
    expect(down).toMatchObject({ status: 'crit', value: 0, error: { code: 'SUP_ERR_KAFKA_UNREACHABLE' } });
    expect(down!.summary).toContain('Kafka unreachable at k:9092');
    const [stillDown] = await check.probe(ctx());
    expect(stillDown!.status).toBe('crit');

    cluster.up = true;
    const [up] = await check.probe(ctx());
    expect(up!.status).toBe('ok');
    expect(fake.stats.created).toBeGreaterThanOrEqual(3);
    await check.close!();
    await check.close!();
    await expect(check.probe(ctx())).rejects.toThrow(/is closed/);
  });

  it('lets non-connection errors through (the scheduler turns them into unknown)', async () => {
    const fake = fakeAdminFactory({ up: true, brokers: [1], controller: 1, topics: {} });
    const check = createKafkaClusterCheck({
      name: 'kafka',
      options: { brokers: ['k:9092'] },
      createAdmin: () => ({ ...fake.create(), fetchTopicMetadata: async () => Promise.reject(new Error('TOPIC_AUTHORIZATION_FAILED')) }),
    });
    await expect(check.probe(ctx())).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    await check.close!();
  });

  it('stops waiting when the probe is aborted', async () => {
    const never = new Promise<never>(() => undefined);
    const check = createKafkaClusterCheck({
      name: 'kafka',
      options: { brokers: ['k:9092'] },
      createAdmin: () => ({ connect: () => never, disconnect: async () => undefined }) as unknown as KafkaAdminApi,
    });
    const ac = new AbortController();
    const p = check.probe({ signal: ac.signal, now: () => 0 });
    ac.abort(new Error('timed out'));
    await expect(p).rejects.toThrow('timed out');
    await check.close!();
  });

  it('evaluateCluster counts partitions of every topic', () => {
    const facts = evaluateCluster({ brokers: [{ nodeId: 1 }], controller: 1 }, [{ name: 'a', partitions: [healthyPartition(0), { ...healthyPartition(1), isr: [] }] }], {
      expectedBrokers: 1,
      topics: ['a', 'b'],
    });
    expect(facts).toMatchObject({ partitions: 2, underReplicatedPartitions: 1, missingTopics: ['b'] });
  });
});

describe('kafkaHealthTask (KafkaHealthCheckOperator)', () => {
  it('turns invalid operator parameters into unknown with the reason', async () => {
    const s = await kafkaHealthTask({ kafka_servers: 'not a broker', topics: 'a,b' }, { signal: new AbortController().signal });
    expect(s.status).toBe('unknown');
    expect(s.error?.code).toBe('SUP_ERR_CONFIG_INVALID');
    expect(s.summary).toContain('brokers.0: a broker is host:port');
  });
});
