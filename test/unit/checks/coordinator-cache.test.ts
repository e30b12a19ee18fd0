import { Kafka, logLevel } from 'kafkajs';
import { cacheGroupCoordinators } from '../../../checks/kafka-client';

const CREATE_CLUSTER = 'private:Kafka:createCluster';

/** A real kafkajs client whose cluster factory is replaced by a fake that counts coordinator lookups. */
function kafkaWithFakeCluster() {
  const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER)!;
  const lookups: string[] = [];
  let coordinatorOf = (groupId: string): Promise<string> => Promise.resolve(`broker-for-${groupId}`);
  (kafka as unknown as Record<symbol, unknown>)[key] = () => ({
    findGroupCoordinator: ({ groupId }: { groupId: string }) => {
      lookups.push(groupId);
      return coordinatorOf(groupId);
    },
  });
  type FakeCluster = { findGroupCoordinator(a: { groupId: string; coordinatorType?: number }): Promise<string> };
  const makeAdmin = (k: Kafka) => {
    const cluster = (k as unknown as Record<symbol, () => FakeCluster>)[key]!();
    let failNext = false;
    return {
      failNext: () => (failNext = true),
      cluster,
      fetchOffsets: async ({ groupId }: { groupId: string }) => {
        const broker = await cluster.findGroupCoordinator({ groupId });
        if (failNext) {
          failNext = false;
          throw Object.assign(new Error('This is not the correct coordinator for this group'), { type: 'NOT_COORDINATOR_FOR_GROUP' });
        }
        return broker;
      },
      describeGroups: async (ids: string[]) => Promise.all(ids.map((groupId) => cluster.findGroupCoordinator({ groupId }))),
    };
  };
  return { kafka, lookups, makeAdmin, setCoordinator: (f: typeof coordinatorOf) => (coordinatorOf = f) };
}

describe('group coordinator cache for the kafkajs admin', () => {
  it('kafkajs still has the private cluster factory the cache hooks into', () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    expect(Object.getOwnPropertySymbols(kafka).map((s) => s.description)).toContain(CREATE_CLUSTER);
  });

  it('asks once per group within the TTL, again after it', async () => {
    const { kafka, lookups, makeAdmin } = kafkaWithFakeCluster();
    let now = 1_000;
    const admin = cacheGroupCoordinators(kafka, 60_000, makeAdmin, () => now);
    await admin.fetchOffsets({ groupId: 'g1' });
    await admin.describeGroups(['g1', 'g2']);
    await admin.fetchOffsets({ groupId: 'g2' });
    expect(lookups).toEqual(['g1', 'g2']);
    now += 60_001;
    expect(await admin.fetchOffsets({ groupId: 'g1' })).toBe('broker-for-g1');
    expect(lookups).toEqual(['g1', 'g2', 'g1']);
  });

  it('forgets every coordinator after a failed call, and never caches a failed lookup', async () => {
    const { kafka, lookups, makeAdmin, setCoordinator } = kafkaWithFakeCluster();
    const admin = cacheGroupCoordinators(kafka, 60_000, makeAdmin);
    await admin.describeGroups(['g1', 'g2']);
    admin.failNext();
    await expect(admin.fetchOffsets({ groupId: 'g1' })).rejects.toThrow(/not the correct coordinator/);
    await admin.describeGroups(['g1', 'g2']);
    // g1, g2 cached; the failure empties the cache: both are asked for again
    expect(lookups).toEqual(['g1', 'g2', 'g1', 'g2']);
    setCoordinator(() => Promise.reject(new Error('COORDINATOR_NOT_AVAILABLE')));
    await expect(admin.fetchOffsets({ groupId: 'g3' })).rejects.toThrow(/COORDINATOR_NOT_AVAILABLE/);
    setCoordinator((g) => Promise.resolve(`new-broker-for-${g}`));
    expect(await admin.fetchOffsets({ groupId: 'g3' })).toBe('new-broker-for-g3');
  });

  it('leaves transaction coordinators alone', async () => {
    const { kafka, lookups, makeAdmin } = kafkaWithFakeCluster();
    const admin = cacheGroupCoordinators(kafka, 60_000, makeAdmin);
    await admin.cluster.findGroupCoordinator({ groupId: 'tx', coordinatorType: 1 });
    await admin.cluster.findGroupCoordinator({ groupId: 'tx', coordinatorType: 1 });
    expect(lookups).toEqual(['tx', 'tx']);
  });
});
