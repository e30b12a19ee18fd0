/**
 * The signal gauges' fast paths (partition lines written from the facts, lines kept from the
 * last scrape by position) against prom-client's own rendering of the same samples: several
 * topics per group, label values that need escaping, partitions without a value, and scrapes
 * after the state changed in place, was reordered, grew and shrank.
 */
import { Registry } from 'prom-client';
import { registerSignalMetrics } from '../../../src/metrics/signal-metrics';
import { FastRegistry } from '../../../src/metrics/snapshot-gauge';
import type { PartitionLag, Signal } from '../../../src/protocol';

const T0 = Date.parse('2026-12-01T12:00:00Z');

function lagSignal(group: string, topics: string[], seed: number): Signal {
  const partitions: PartitionLag[] = [];
  let total = 0;
  topics.forEach((topic, t) => {
    for (let p = 0; p < 3; p++) {
      const never = (seed + t + p) % 4 === 0;
      const lag = never ? null : (seed * 7 + p) % 11;
      if (lag !== null) total += lag;
      partitions.push({
        topic,
        partition: p,
        committedOffset: never ? null : 100 + p,
        endOffset: 100 + p + (lag ?? 0),
        lag,
        lagSeconds: never ? null : p * 1.5,
        status: never ? 'NOTFOUND' : 'OK',
      });
    }
  });
  return {
    check: 'lag',
    kind: 'consumer_lag',
    target: group,
    labels: { group },
    status: 'ok',
    value: total,
    observedAt: T0,
    durationMs: 3,
    summary: 's',
    facts: { kind: 'consumer_lag', group, status: 'OK', totalLag: total, maxLagSeconds: 3, partitions },
  };
}

const render = async (signals: Signal[]) => {
  const fast = new FastRegistry();
  const plain = new Registry();
  for (const registry of [fast, plain]) registerSignalMetrics({ registry, latest: () => signals, now: () => T0 });
  return { fast, plain };
};

describe('signal metrics at scale: fast paths render what prom-client renders', () => {
  it('writes partition lines for several topics, escaped labels and missing values exactly as the label path does', async () => {
    const signals = [lagSignal('g1', ['orders', 'pay"ments\\x'], 1), lagSignal('g"2\n', ['orders'], 2), lagSignal('g3', ['b', 'a', 'b2'], 3)];
    const { fast, plain } = await render(signals);
    const ours = await fast.metrics();
    expect(ours).toBe(await plain.metrics());
    expect(ours).toContain('supervisor_kafka_consumer_lag_messages{group="g1",topic="pay\\"ments\\\\x",partition="1"}');
    expect(ours).toContain('supervisor_kafka_consumer_committed_offset{group="g\\"2\\n",topic="orders",partition="1"} 101');
    expect(ours.endsWith('\n')).toBe(true);
  });

  it('follows the state between scrapes: replaced, reordered, added and removed signals', async () => {
    let signals = Array.from({ length: 6 }, (_, i) => lagSignal(`g${i}`, ['t', 'u'], i));
    const fast = new FastRegistry();
    const plain = new Registry();
    for (const registry of [fast, plain]) registerSignalMetrics({ registry, latest: () => signals, now: () => T0 });
    const same = async () => expect(await fast.metrics()).toBe(await plain.metrics());
    await same();
    await same(); // nothing changed: lines from the last scrape
    signals = signals.map((s, i) => (i === 2 ? lagSignal('g2', ['t', 'u'], 40) : s));
    await same();
    signals = [...signals].reverse();
    await same();
    signals = [lagSignal('new', ['t'], 9), ...signals.slice(0, 3)];
    await same();
    signals = [];
    await same();
  });

  it('keeps lines in batches of items: a change, an insertion and a removal across batch boundaries', async () => {
    let signals = Array.from({ length: 300 }, (_, i) => lagSignal(`g${i}`, ['t'], i));
    const fast = new FastRegistry();
    const plain = new Registry();
    for (const registry of [fast, plain]) registerSignalMetrics({ registry, latest: () => signals, now: () => T0 });
    const same = async () => expect(await fast.metrics()).toBe(await plain.metrics());
    await same();
    signals = signals.map((s, i) => (i === 200 ? lagSignal('g200', ['t'], 77) : s));
    await same();
    signals = [...signals.slice(0, 127), lagSignal('inserted', ['t'], 5), ...signals.slice(127)];
    await same();
    signals = signals.slice(0, 128);
    await same();
  });
});
