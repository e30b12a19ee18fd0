import { consumerLagOptionsSchema, createConsumerLagCheck } from '../../../checks/consumer-lag';
import { createCommitStore } from '../../../checks/lag-commit-store';
import type { KafkaAdminApi } from '../../../checks/kafka-client';
import type { ConsumerLagFacts, ProbeContext } from '../../../src/protocol';

/** A fake cluster: topic → end offsets per partition; group → topic → committed per partition. */
function fakeAdmin(world: { ends: Record<string, number[]>; commits: Record<string, Record<string, number[]>> }) {
  const calls = { fetchOffsets: 0, fetchTopicOffsets: 0 };
  const admin: Partial<KafkaAdminApi> = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listGroups: async () => ({ groups: Object.keys(world.commits).map((groupId) => ({ groupId, protocolType: 'consumer' })) }),
    fetchTopicMetadata: async () => ({
      topics: Object.entries(world.ends).map(([name, ends]) => ({
        name,
        partitions: ends.map((_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 })),
      })),
    }),
    fetchTopicOffsets: async (topic: string) => {
      calls.fetchTopicOffsets += 1;
      return (world.ends[topic] ?? []).map((high, partition) => ({ partition, offset: String(high), high: String(high), low: '0' }));
    },
    fetchOffsets: async ({ groupId }: { groupId: string }) => {
      calls.fetchOffsets += 1;
      return Object.entries(world.commits[groupId] ?? {}).map(([topic, offsets]) => ({
        topic,
        partitions: offsets.map((o, partition) => ({ partition, offset: String(o), metadata: null })),
      }));
    },
    describeGroups: async (ids: string[]) => ({ groups: ids.map((groupId) => ({ groupId, state: 'Stable', members: [], protocol: '', protocolType: 'consumer' })) }),
  };
  return { create: () => admin as KafkaAdminApi, calls };
}

let clock = 1_000_000;
const ctx = (): ProbeContext => ({ signal: new AbortController().signal, now: () => clock });
const facts = (s: { facts?: unknown }): ConsumerLagFacts => s.facts as ConsumerLagFacts;

describe('consumer lag options', () => {
  it('defaults and validation', () => {
    const o = consumerLagOptionsSchema.parse({ brokers: 'k:9092' });
    expect(o).toMatchObject({ groups: [], include: [], offsetSource: 'auto', windowSize: 10, concurrency: 10, stopAfter: 600_000 });
    expect(() => createConsumerLagCheck({ name: 'lag', options: { brokers: 'k:9092', include: ['('] } })).toThrow(/invalid consumer_lag options/);
    const r = consumerLagOptionsSchema.safeParse({ brokers: 'k:9092', include: ['('], statusMap: { BOGUS: 'ok' }, extra: 1 });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['include.0']));
  });
});

describe('consumer lag check (admin fallback)', () => {
  it('fetches end offsets once per topic, offsets per group, and judges each group', async () => {
    const world = {
      ends: { orders: [100, 100], other: [10] },
      commits: { fast: { orders: [100, 100] }, slow: { orders: [40, 50] }, reader: { other: [10] } } as Record<string, Record<string, number[]>>,
    };
    const fake = fakeAdmin(world);
    const check = createConsumerLagCheck({ name: 'lag', options: { brokers: 'k:9092', groups: ['ghost'], include: ['.*'] }, createAdmin: fake.create });
    clock = 1_000_000;
    let signals = await check.probe(ctx());
    expect(signals.map((s) => s.target)).toEqual(['fast', 'ghost', 'reader', 'slow']);
    expect(fake.calls.fetchTopicOffsets).toBe(2); // orders and other, shared by fast and slow
    expect(fake.calls.fetchOffsets).toBe(4);
    const slow = signals.find((s) => s.target === 'slow')!;
    expect(slow).toMatchObject({ value: 110, unit: 'messages', labels: { group: 'slow' } });
    expect(facts(slow).partitions).toEqual([
      { topic: 'orders', partition: 0, committedOffset: 40, endOffset: 100, lag: 60, lagSeconds: null, status: 'OK' },
      { topic: 'orders', partition: 1, committedOffset: 50, endOffset: 100, lag: 50, lagSeconds: null, status: 'OK' },
    ]);
    expect(facts(slow).groupState).toBe('Stable');
    const ghost = signals.find((s) => s.target === 'ghost')!;
    expect(ghost.status).toBe('warn');
    expect(ghost.value).toBeUndefined();
    expect(facts(ghost)).toMatchObject({ status: 'NOTFOUND', totalLag: 0, partitions: [] });
    expect(ghost.summary).toBe('group ghost has never committed an offset');
    expect(check.lastCycle()).toMatchObject({ mode: 'admin', groups: 4, endOffsetFetches: 2 });

    // Next cycles: the end offset moves, slow stays put → STALL (crit); fast keeps up.
    for (let i = 1; i <= 3; i += 1) {
      clock += 15_000;
      world.ends.orders = [100 + i * 30, 100 + i * 30];
      world.commits.fast!.orders = [100 + i * 30, 100 + i * 30];
      signals = await check.probe(ctx());
    }
    const stalled = signals.find((s) => s.target === 'slow')!;
    expect(facts(stalled).status).toBe('STALL');
    expect(stalled.status).toBe('crit');
    expect(facts(stalled).partitions[0]!.lagSeconds).toBeGreaterThan(0);
    expect(signals.find((s) => s.target === 'fast')!.status).toBe('ok');
    await check.close!();
  });

  it('applies lag thresholds and include/exclude regexes', async () => {
    const fake = fakeAdmin({ ends: { t: [1000] }, commits: { 'etl-a': { t: [10] }, 'etl-b': { t: [999] }, other: { t: [0] } } });
    const check = createConsumerLagCheck({
      name: 'lag',
      options: { brokers: 'k:9092', include: ['^etl-'], exclude: ['-b$'], maxLag: 100, thresholdStatus: 'crit' },
      createAdmin: fake.create,
    });
    const signals = await check.probe(ctx());
    expect(signals.map((s) => s.target)).toEqual(['etl-a']);
    expect(signals[0]).toMatchObject({ status: 'crit', value: 990, threshold: 100 });
    expect(signals[0]!.summary).toContain('lag 990 > 100 messages');
    await check.close!();
  });
});

describe('consumer lag check (commit stream)', () => {
  it('uses the live commit source with no per-group fetch, and sees REWIND', async () => {
    const store = createCommitStore({ minDistanceMs: 0 });
    const fake = fakeAdmin({ ends: { t: [500] }, commits: {} });
    const check = createConsumerLagCheck({ name: 'lag', options: { brokers: 'k:9092' }, commitSource: store, createAdmin: fake.create });
    const commit = (offset: number, at: number) =>
      store.apply({ type: 'commit', group: 'g', topic: 't', partition: 0, offset, leaderEpoch: null, metadata: '', commitTimestamp: at, expireTimestamp: null });
    clock = 2_000_000;
    commit(300, clock - 3000);
    commit(350, clock - 2000);
    commit(100, clock - 1000);
    // not live yet → admin fallback (and this group has no admin-visible commits)
    let signals = await check.probe(ctx());
    expect(check.lastCycle()!.mode).toBe('admin');
    store.apply({ type: 'state', state: 'live' });
    signals = await check.probe(ctx());
    expect(check.lastCycle()).toMatchObject({ mode: 'consumer_offsets', offsetFetches: 0 });
    expect(signals).toHaveLength(1);
    expect(facts(signals[0]!)).toMatchObject({ group: 'g', status: 'REWIND', totalLag: 400 });
    expect(signals[0]!.status).toBe('warn');
    await check.close!();
  });

  it('offsetSource consumer_offsets refuses to fall back', async () => {
    const check = createConsumerLagCheck({
      name: 'lag',
      options: { brokers: 'k:9092', offsetSource: 'consumer_offsets' },
      createAdmin: fakeAdmin({ ends: {}, commits: {} }).create,
    });
    await expect(check.probe(ctx())).rejects.toThrow(/no __consumer_offsets stream is wired/);
    await check.close!();
  });
});
