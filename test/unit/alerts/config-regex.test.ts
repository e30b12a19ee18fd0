import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { isSupervisorError } from '../../../src/protocol';
import { createConsumerLagCheck } from '../../../checks/consumer-lag';
import type { KafkaAdminApi } from '../../../checks/kafka-client';

const CONFIG = `server: { port: 0 }
store: { path: state.db }
checks:
  lag:
    kind: consumer_lag
    brokers: 127.0.0.1:9092
    include: ["(?=etl)"]
    exclude: ["(a+)+$"]
alerts:
  rules:
    - name: r1
      match:
        labels: { severity: "~(?!x)" }
  inhibit:
    - source_match: { alertname: "~(" }
      target_match: { alertname: x }
`;

describe('user regexes in the config run on the linear-time engine', () => {
  it('reports every regex RE2 refuses at its file:line:column, naming the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-regex-cfg-'));
    const file = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(file, CONFIG);
    let problems: readonly string[] = [];
    try {
      loadConfig({ file, env: {} });
    } catch (err) {
      if (!isSupervisorError(err)) throw err;
      problems = err.problems;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(problems).toEqual([
      expect.stringMatching(/:7:\d+: checks\.lag\.include\[0\]: invalid regular expression "\(\?=etl\)"/),
      expect.stringMatching(/:13:\d+: alerts\.rules\[0\]\.match\.labels\.severity: invalid regular expression "\(\?!x\)"/),
      expect.stringMatching(/:15:\d+: alerts\.inhibit\[0\]\.source_match\.alertname: invalid regular expression "\("/),
    ]);
  });

  it('consumer_lag include/exclude search group names in linear time', async () => {
    // ^(a+)+$ backtracks exponentially in a JS RegExp on "aaaa…!"; RE2 does not
    const evil = `${'a'.repeat(5_000)}!`;
    const commits: Record<string, Record<string, number[]>> = { 'etl-a': { t: [10] }, [evil]: { t: [10] }, aaa: { t: [10] } };
    const admin: Partial<KafkaAdminApi> = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      listGroups: async () => ({ groups: Object.keys(commits).map((groupId) => ({ groupId, protocolType: 'consumer' })) }),
      fetchTopicMetadata: async () => ({ topics: [{ name: 't', partitions: [{ partitionId: 0, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }] }] }),
      fetchTopicOffsets: async () => [{ partition: 0, offset: '100', high: '100', low: '0' }],
      fetchOffsets: async ({ groupId }: { groupId: string }) =>
        Object.entries(commits[groupId] ?? {}).map(([topic, offsets]) => ({
          topic,
          partitions: offsets.map((o, partition) => ({ partition, offset: String(o), metadata: null })),
        })),
      describeGroups: async (ids: string[]) => ({ groups: ids.map((groupId) => ({ groupId, state: 'Stable', members: [], protocol: '', protocolType: 'consumer' })) }),
    };
    const check = createConsumerLagCheck({ name: 'lag', options: { brokers: 'k:9092', include: ['a'], exclude: ['^(a+)+$'] }, createAdmin: () => admin as KafkaAdminApi });
    const signals = await check.probe({ signal: new AbortController().signal, now: () => 1_000_000 });
    expect(signals.map((s) => s.target)).toEqual([evil, 'etl-a']);
    await check.close!();
  });
});
