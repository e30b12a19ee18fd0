import { Registry } from 'prom-client';
import { registerSignalMetrics } from '../../../src/metrics/signal-metrics';
import { FastRegistry } from '../../../src/metrics/snapshot-gauge';
import type { Signal } from '../../../src/protocol';

const T0 = Date.parse('2026-11-28T12:00:00Z');

function base(check: string, kind: Signal['kind'], target: string, facts: Signal['facts'], status: Signal['status'] = 'ok'): Signal {
  return { check, kind, target, labels: {}, status, observedAt: T0, durationMs: 12, summary: 's', facts };
}

function sampleSignals(lagOfP0 = 7): Signal[] {
  return [
    base('kafka', 'kafka_cluster', 'localhost:9092', {
      kind: 'kafka_cluster',
      brokers: 1,
      expectedBrokers: 1,
      controllerId: 1,
      topics: 2,
      missingTopics: ['x'],
      partitions: 6,
      offlinePartitions: 0,
      underReplicatedPartitions: 0,
    }),
    base('lag', 'consumer_lag', 'g1', {
      kind: 'consumer_lag',
      group: 'g1',
      status: 'WARN',
      totalLag: lagOfP0,
      maxLagSeconds: 3.5,
      partitions: [
        { topic: 't', partition: 0, committedOffset: 10, endOffset: 10 + lagOfP0, lag: lagOfP0, lagSeconds: 3.5, status: 'WARN' },
        { topic: 't', partition: 1, committedOffset: null, endOffset: 4, lag: null, lagSeconds: null, status: 'NOTFOUND' },
      ],
    }),
    // a second group on the same topic: end offsets are one series per partition
    base('lag', 'consumer_lag', 'g"2\\', {
      kind: 'consumer_lag',
      group: 'g"2\\',
      status: 'OK',
      totalLag: 0,
      maxLagSeconds: null,
      partitions: [{ topic: 't', partition: 0, committedOffset: 17, endOffset: 17, lag: 0, lagSeconds: null, status: 'OK' }],
    }),
    base('registry', 'schema_registry', 'http://r', {
      kind: 'schema_registry',
      reachable: true,
      subjects: [
        { subject: 'a-value', exists: true, latestVersion: 3, schemaId: 9 },
        { subject: 'b-value', exists: false, latestVersion: null, schemaId: null },
      ],
      eventAgeSeconds: { a: 12, b: null },
    }),
    base('gold', 'delta_freshness', 's3://b/gold', {
      kind: 'delta_freshness',
      table: 's3://b/gold',
      version: 41,
      lastCommitAt: T0 - 60_000,
      lastDataChangeAt: T0 - 120_000,
      lastDataChangeVersion: 40,
      ageSeconds: 120,
      thresholdSeconds: 7200,
      timeSource: 'inCommitTimestamp',
      requests: 2,
    }),
    base(
      'spark',
      'spark',
      'http://m',
      {
        kind: 'spark',
        masterStatus: 'ALIVE',
        aliveWorkers: 1,
        expectedWorkers: 2,
        apps: [{ id: 'app-1', name: 'bronze', state: 'RUNNING', durationSeconds: 30 }],
        expectedApps: [
          { name: 'bronze', running: true },
          { name: 'silver', running: false },
        ],
        queries: [{ name: 'q', inputRowsPerSecond: 5, processedRowsPerSecond: null, lastProgressAgeSeconds: 1.5 }],
      },
      'warn',
    ),
    base('broken', 'delta_freshness', '*', undefined, 'unknown'),
  ];
}

/** Non-comment lines, sorted: the two renderers may order series differently only within a metric. */
const seriesLines = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .sort();

describe('signal metrics', () => {
  it('renders exactly what prom-client renders from the same samples', async () => {
    const signals = sampleSignals();
    const fast = new FastRegistry();
    const plain = new Registry();
    for (const registry of [fast, plain]) registerSignalMetrics({ registry, latest: () => signals, now: () => T0 });
    const [ours, theirs] = [await fast.metrics(), await plain.metrics()];
    expect(seriesLines(ours)).toEqual(seriesLines(theirs));
    expect(ours.split('\n').filter((l) => l.startsWith('# '))).toEqual(theirs.split('\n').filter((l) => l.startsWith('# ')));
    // spot checks that the comparison is about something
    expect(ours).toContain('supervisor_kafka_consumer_lag_messages{group="g1",topic="t",partition="0"} 7');
    expect(ours).toContain('supervisor_kafka_consumer_group_status{group="g\\"2\\\\"} 0');
    expect(ours).toContain('supervisor_check_up{check="broken",kind="delta_freshness",target="*"} 0');
    expect(ours).not.toContain('partition="1"} null');
    expect(ours.match(/^supervisor_kafka_partition_end_offset\{topic="t",partition="0"\}/gm)).toHaveLength(1);
  });

  it('renders a new probe result, not the cached lines of the one it replaced', async () => {
    let signals = sampleSignals(7);
    const registry = new FastRegistry();
    registerSignalMetrics({ registry, latest: () => signals, now: () => T0 });
    expect(await registry.metrics()).toContain('supervisor_kafka_consumer_lag_messages{group="g1",topic="t",partition="0"} 7');
    signals = sampleSignals(250);
    const after = await registry.metrics();
    expect(after).toContain('supervisor_kafka_consumer_lag_messages{group="g1",topic="t",partition="0"} 250');
    expect(after).not.toContain('supervisor_kafka_consumer_lag_messages{group="g1",topic="t",partition="0"} 7');
    signals = signals.filter((s) => s.kind !== 'consumer_lag');
    expect(await registry.metrics()).not.toContain('supervisor_kafka_consumer_lag_messages{');
  });

  it('computes ages against the scrape clock, so they grow between probe runs of the same signal', async () => {
    const signals = sampleSignals();
    let now = T0;
    const registry = new FastRegistry();
    registerSignalMetrics({ registry, latest: () => signals, now: () => now });
    expect(await registry.metrics()).toContain('supervisor_delta_freshness_seconds{check="gold",table="s3://b/gold"} 120');
    now = T0 + 30_000;
    expect(await registry.metrics()).toContain('supervisor_delta_freshness_seconds{check="gold",table="s3://b/gold"} 150');
  });
});
