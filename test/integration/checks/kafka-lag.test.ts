/**
 * Against the real local Kafka: the cluster check, the __consumer_offsets stream, and the lag
 * check with groups that really commit — a healthy one, a stalled one (commits, no progress,
 * end offset moves), a rewound one (commit goes backwards), a stopped one, and one that never
 * committed.
 */
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
import { firstValueFrom, filter, take, toArray, type Subscription } from 'rxjs';
import type { Admin, Producer } from 'kafkajs';
import { ensureServices, kafkaClient, endpoints, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { freshGroup, freshTopic } from '../../helpers/names';
import { recordingLogger } from '../../helpers/recording-logger';
import { createKafkaClusterCheck, kafkaHealthTask } from '../../../checks/kafka-cluster';
import { createConsumerLagCheck, type ConsumerLagCheck } from '../../../checks/consumer-lag';
import { createCommitStore } from '../../../checks/lag-commit-store';
import { adminCluster, cacheGroupCoordinators } from '../../../checks/kafka-client';
import { createBatchOffsetFetcher } from '../../../checks/offset-fetch-batch';
import { createConsumerOffsets$ } from '../../../streams/consumer-offsets';
import type { CheckProbe, ConsumerLagFacts, ConsumerOffsetsEvent, ProbeContext, Signal } from '../../../src/protocol';
const brokers = endpoints.kafkaBrokers.slice();
const ctx = (): ProbeContext => ({ signal: AbortSignal.timeout(20_000), now: () => Date.now() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const facts = (s: Signal): ConsumerLagFacts => s.facts as ConsumerLagFacts;

let admin: Admin;
let producer: Producer;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  await ensureServices(['kafka']);
  const kafka = kafkaClient('lag-test');
  admin = kafka.admin();
  producer = kafka.producer();
  await admin.connect();
  await producer.connect();
}, STACK_TIMEOUT_MS);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await producer?.disconnect();
  await admin?.disconnect();
});

async function topicWith(messages: number, partitions = 1): Promise<string> {
  const topic = freshTopic('lag');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  await produce(topic, messages);
  return topic;
}

async function produce(topic: string, n: number): Promise<void> {
  if (n === 0) return;
  await producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ value: `m${i}` })) });
}

/**
 * A real group member (kafkajs consumer, auto-commit off) that commits offsets when told, like
 * an application calling commitSync. Joins once; each commit is one OffsetCommit request.
 */
type Member = { commit(offset: number): Promise<void>; stop(): Promise<void> };
async function member(groupId: string, topic: string): Promise<Member> {
  const consumer = kafkaClient('lag-test-member').consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
  await joined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await consumer.disconnect();
  };
  closers.push(stop);
  return { commit: (offset) => consumer.commitOffsets([{ topic, partition: 0, offset: String(offset) }]), stop };
}
describe('kafka_cluster check on the real broker', () => {
  it('is ok with existing topics and crit with a missing one; reports partitions', async () => {
    const topic = await topicWith(1, 3);
    const check: CheckProbe = createKafkaClusterCheck({ name: 'kafka', options: { brokers, topics: [topic] } });
    closers.push(() => check.close?.());
    const [ok] = await check.probe(ctx());
    expect(ok).toMatchObject({ status: 'ok', value: 1, target: brokers.join(',') });
    expect(ok!.facts).toMatchObject({ brokers: 1, missingTopics: [], offlinePartitions: 0, underReplicatedPartitions: 0 });
    expect((ok!.facts as { partitions: number }).partitions).toBeGreaterThanOrEqual(3);
    expect((ok!.facts as { controllerId: number | null }).controllerId).not.toBeNull();

    const missing = `${topic}-missing`;
    const task = await kafkaHealthTask({ kafka_servers: brokers.join(','), topics: [topic, missing] }, { signal: AbortSignal.timeout(20_000) });
    expect(task.status).toBe('crit');
    expect(task.summary).toContain(`missing topics: ${missing}`);
    // the check must not have created the missing topic
    expect(await admin.listTopics()).not.toContain(missing);
  });

  it('reports an unreachable cluster as crit with SUP_ERR_KAFKA_UNREACHABLE', async () => {
    const check = createKafkaClusterCheck({ name: 'kafka', options: { brokers: '127.0.0.1:1', connectionTimeout: '300ms', retries: 0 } });
    closers.push(() => check.close?.());
    const [s] = await check.probe(ctx());
    expect(s).toMatchObject({ status: 'crit', error: { code: 'SUP_ERR_KAFKA_UNREACHABLE' } });
  });
});

describe('consumer lag on the real broker', () => {
  let stream: Subscription;
  const store = createCommitStore({ minDistanceMs: 500 });
  const events: ConsumerOffsetsEvent[] = [];

  beforeAll(async () => {
    const events$ = createConsumerOffsets$({ brokers, retryDelayMs: 1000 });
    stream = events$.subscribe((e) => {
      events.push(e);
      store.apply(e);
    });
    closers.push(async () => {
      stream.unsubscribe();
      await sleep(2000); // the consumer leaves its group after its last fetch returns
    });
    // wait until the replay of __consumer_offsets is done
    for (let i = 0; i < 120 && store.state() !== 'live'; i += 1) await sleep(250);
    expect(store.state()).toBe('live');
  }, 60_000);

  async function waitForCommit(group: string, offset: number): Promise<void> {
    for (let i = 0; i < 80; i += 1) {
      const w = store.commits(group)?.values().next().value?.get(0);
      if (w && w[w.length - 1]?.offset === offset) return;
      await sleep(100);
    }
    throw new Error(`commit ${group}@${offset} never arrived through __consumer_offsets`);
  }

  function lagCheck(groups: string[], offsetSource: 'auto' | 'admin' = 'auto'): ConsumerLagCheck {
    const check = createConsumerLagCheck({ name: 'lag', options: { brokers, groups, offsetSource, stopAfter: '60s' }, commitSource: store });
    closers.push(() => check.close?.());
    return check;
  }

  it('streams real commits decoded from __consumer_offsets', async () => {
    const topic = await topicWith(10);
    const group = freshGroup('decoded');
    const m = await member(group, topic);
    await m.commit(7);
    await waitForCommit(group, 7);
    const e = events.find((x) => x.type === 'commit' && x.group === group);
    expect(e).toMatchObject({ type: 'commit', topic, partition: 0, offset: 7 });
    expect(Math.abs((e as { commitTimestamp: number }).commitTimestamp - Date.now())).toBeLessThan(60_000);
  });

  it('judges healthy, stalled, rewound, stopped and never-committed groups', async () => {
    const topic = await topicWith(100);
    const healthy = freshGroup('healthy');
    const stalled = freshGroup('stalled');
    const rewound = freshGroup('rewound');
    const stopped = freshGroup('stopped');
    const never = freshGroup('never');
    const check = lagCheck([healthy, stalled, rewound, stopped, never]);

    const [mHealthy, mStalled, mRewound, mStopped] = (await Promise.all([healthy, stalled, rewound, stopped].map((g) => member(g, topic)))) as [Member, Member, Member, Member];
    await mStopped.commit(10);
    await sleep(600);
    await mStopped.commit(20);
    await mStopped.stop();
    await check.probe(ctx()); // first end-offset point
    // Six rounds ~700 ms apart: production continues; healthy catches up every round, stalled
    // re-commits the same offset, rewound moves forward then jumps back in the last round.
    let end = 100;
    for (let round = 1; round <= 6; round += 1) {
      await produce(topic, 20);
      end += 20;
      await mHealthy.commit(end);
      await mStalled.commit(30);
      await mRewound.commit(round < 6 ? 10 * round : 5);
      await check.probe(ctx());
      await sleep(700);
    }
    await waitForCommit(healthy, end);
    await waitForCommit(stalled, 30);
    await waitForCommit(rewound, 5);
    const signals = await check.probe(ctx());
    expect(check.lastCycle()).toMatchObject({ mode: 'consumer_offsets', offsetFetches: 0, endOffsetFetches: 1 });
    const by = new Map(signals.map((s) => [s.target, s]));

    expect(facts(by.get(healthy)!)).toMatchObject({ status: 'OK', totalLag: 0 });
    expect(by.get(healthy)!.status).toBe('ok');

    const st = by.get(stalled)!;
    expect(facts(st).status).toBe('STALL');
    expect(st.status).toBe('crit');
    expect(facts(st).partitions[0]).toMatchObject({ committedOffset: 30, endOffset: end, lag: end - 30 });
    expect(facts(st).partitions[0]!.lagSeconds).toBeGreaterThan(0);

    expect(facts(by.get(rewound)!)).toMatchObject({ status: 'REWIND', totalLag: end - 5 });

    // stopped: two commits 0.6 s apart, then silence for several seconds while behind
    expect(facts(by.get(stopped)!).status).toBe('STOP');
    expect(by.get(stopped)!.status).toBe('crit');

    const nf = by.get(never)!;
    expect(facts(nf)).toMatchObject({ status: 'NOTFOUND', partitions: [] });
    expect(nf.value).toBeUndefined();
    expect(nf.summary).toContain('never committed');
  });

  it('falls back to admin fetches (bounded) and still sees a stall', async () => {
    const topic = await topicWith(50);
    const stalled = freshGroup('stalled-admin');
    const check = lagCheck([stalled], 'admin');
    const m = await member(stalled, topic);
    await m.commit(5);
    let last: Signal[] = [];
    for (let i = 0; i < 4; i += 1) {
      await produce(topic, 10);
      last = await check.probe(ctx());
      await sleep(300);
    }
    expect(check.lastCycle()).toMatchObject({ mode: 'admin', offsetFetches: 1 });
    expect(facts(last[0]!)).toMatchObject({ group: stalled, status: 'STALL', totalLag: 85 });
  });

  it('admin mode reads many groups with one OffsetFetch v8 request, equal to kafkajs per-group answers', async () => {
    const topic = await topicWith(0, 3);
    for (let p = 0; p < 3; p += 1) await producer.send({ topic, messages: Array.from({ length: 40 }, (_, i) => ({ partition: p, value: `m${i}` })) });
    const groups = [1, 2, 3, 4, 5].map((i) => freshGroup(`batched-${i}`));
    // group i commits partitions 0..min(i, 3)-1 at offset 5·i + p: some partitions stay uncommitted
    // (setOffsets joins each group once: the five joins run side by side)
    await Promise.all(
      groups.map((groupId, i) => {
        const partitions = [0, 1, 2].slice(0, Math.min(i + 1, 3)).map((p) => ({ partition: p, offset: String(5 * (i + 1) + p) }));
        return admin.setOffsets({ groupId, topic, partitions });
      }),
    );
    const never = freshGroup('batched-never');

    const kafka = kafkaClient('lag-test-batched');
    const batchedAdmin = cacheGroupCoordinators(kafka, 60_000, (k) => k.admin());
    await batchedAdmin.connect();
    closers.push(() => batchedAdmin.disconnect());
    const fetcher = await createBatchOffsetFetcher(adminCluster(batchedAdmin)!, groups[0]!);
    expect(fetcher).not.toBeNull();
    const all = [...groups, never];
    const normalize = (topics: ReadonlyArray<{ topic: string; partitions: ReadonlyArray<{ partition: number; offset: number | string }> }>) =>
      topics
        .filter((t) => t.topic === topic)
        .flatMap((t) => t.partitions.map((p) => `${p.partition}@${Number(p.offset)}`))
        .sort();
    for (const topics of [null, [{ topic, partitions: [0, 1, 2] }]]) {
      const answer = await fetcher!(all.map((groupId) => ({ groupId, topics })));
      expect(answer.requests).toBe(1);
      expect(answer.failed).toEqual([]);
      for (const groupId of all) {
        const expected = normalize(await admin.fetchOffsets(topics ? { groupId, topics: [topic] } : { groupId }));
        const got = normalize(answer.groups.find((g) => g.groupId === groupId)!.topics);
        // kafkajs with no topic list returns only committed partitions, as does v8 with a null list
        expect(got).toEqual(expected);
      }
    }

    const check = lagCheck(groups, 'admin');
    const [first] = await Promise.all([check.probe(ctx())]);
    expect(check.lastCycle()).toMatchObject({ mode: 'admin', groups: 5, offsetFetches: 1 });
    const lagOf = (g: string) => facts(first.find((s) => facts(s).group === g)!).totalLag;
    // group i: committed partitions lag 40 − (5·i + p)
    expect(lagOf(groups[0]!)).toBe(40 - 5);
    expect(lagOf(groups[4]!)).toBe(3 * 40 - (25 + 26 + 27));
  });

  it('replays a __consumer_offsets partition larger than one fetch (256 KB a partition) to its last commit', async () => {
    const topic = freshTopic('lag-wide');
    await admin.createTopics({ topics: [{ topic, numPartitions: 64, replicationFactor: 1 }], waitForLeaders: true });
    await producer.send({ topic, messages: Array.from({ length: 64 }, (_, p) => ({ partition: p, value: `m${p}` })) });
    const group = freshGroup('wide');
    // one group: all its commits go to one __consumer_offsets partition, 64 records a request
    const rounds = 80;
    const committer = kafkaClient('lag-test-wide').consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    const joined = new Promise<void>((resolve) => committer.on(committer.events.GROUP_JOIN, () => resolve()));
    await committer.connect();
    await committer.subscribe({ topics: [topic], fromBeginning: true });
    await committer.run({ autoCommit: false, eachMessage: async () => undefined });
    await joined;
    for (let r = 1; r <= rounds; r += 1) await committer.commitOffsets(Array.from({ length: 64 }, (_, p) => ({ topic, partition: p, offset: String(r % 2) })));
    await committer.disconnect();
    const fresh = createCommitStore();
    let seen = 0;
    const sub = createConsumerOffsets$({ brokers, retryDelayMs: 1000 }).subscribe((e) => {
      if (e.type === 'commit' && e.group === group) seen += 1;
      fresh.apply(e);
    });
    try {
      for (let i = 0; i < 160 && fresh.state() !== 'live'; i += 1) await sleep(250);
      expect(fresh.state()).toBe('live');
      // every commit of the group was read (not only the first fetch's worth), the last one last
      expect(seen).toBe(rounds * 64);
      const windows = fresh.commits(group)?.get(topic);
      expect(windows?.size).toBe(64);
      for (const [, w] of windows!) expect(w[w.length - 1]?.offset).toBe(rounds % 2);
    } finally {
      sub.unsubscribe();
      await sleep(2000); // the consumer leaves its group after its last fetch returns
    }
  }, 90_000);

  it('the stream reports a state event stream that starts with catching_up', async () => {
    expect(events[0]).toEqual({ type: 'state', state: 'catching_up' });
    expect(events.some((e) => e.type === 'state' && e.state === 'live')).toBe(true);
    const down = await firstValueFrom(
      createConsumerOffsets$({ brokers: ['127.0.0.1:1'], retryDelayMs: 60_000, connectionTimeout: 200 }).pipe(filter((e) => e.type === 'state' && e.state === 'unavailable')),
    );
    expect(down).toMatchObject({ type: 'state', state: 'unavailable', error: { code: 'SUP_ERR_KAFKA_UNREACHABLE' } });
    await sleep(500);
  });

  it('warns once about a broker it cannot read, and logs the retries of the same problem at debug', async () => {
    const logger = recordingLogger();
    const downs = await firstValueFrom(
      createConsumerOffsets$({ brokers: ['127.0.0.1:1'], retryDelayMs: 100, connectionTimeout: 200, logger }).pipe(
        filter((e) => e.type === 'state' && e.state === 'unavailable'),
        take(3),
        toArray(),
      ),
    );
    expect(downs).toHaveLength(3);
    const about = logger.lines.filter((l) => l.msg.includes('__consumer_offsets'));
    expect(about.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(about.filter((l) => l.level === 'debug').length).toBeGreaterThanOrEqual(2);
    await sleep(500);
  });
});
