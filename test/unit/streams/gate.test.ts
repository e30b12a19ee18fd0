import { Subject } from 'rxjs';
import { evaluateGate, gateTriggers } from '../../../streams/gate';
import type { Signal, Trigger } from '../../../src/protocol';

const probes = (over: Partial<Parameters<typeof evaluateGate>[1]> = {}) => ({ kafkaHealth: async () => null, lag: async () => 0, ...over });

describe('gate', () => {
  it('is open when Kafka is healthy and the lag is within the threshold', async () => {
    expect(await evaluateGate({ kafkaHealthy: true, maxLag: { group: 'g', topic: 't', maxLag: 5 } }, probes({ lag: async () => 5 }))).toBeNull();
  });
  it('closes on lag above the threshold, naming group, topic and values', async () => {
    expect(await evaluateGate({ kafkaHealthy: false, maxLag: { group: 'g', topic: 't', maxLag: 5 } }, probes({ lag: async () => 6 }))).toBe('gate: consumer group g lags 6 messages on t (above 5)');
  });
  it('closes when Kafka is unhealthy, from the probe or from a crit kafka_cluster signal', async () => {
    expect(await evaluateGate({ kafkaHealthy: true }, probes({ kafkaHealth: async () => 'no active controller' }))).toBe('gate: Kafka is unhealthy (no active controller)');
    const crit = { check: 'kafka', kind: 'kafka_cluster', status: 'crit', summary: '0/1 brokers' } as Signal;
    expect(await evaluateGate({ kafkaHealthy: true }, probes({ latestSignals: () => [crit] }))).toBe('gate: Kafka is unhealthy (kafka: crit, 0/1 brokers)');
  });
  it('as an operator: a failing evaluation skips the trigger instead of killing the stream; order is kept', async () => {
    const input = new Subject<Trigger>();
    const out: Trigger[] = [];
    let n = 0;
    input
      .pipe(
        gateTriggers(() => async () => {
          n += 1;
          if (n === 1) throw new Error('ECONNREFUSED');
          return n === 2 ? 'gate: closed' : null;
        }),
      )
      .subscribe((t) => out.push(t));
    const t = (d: number, kind: Trigger['kind'] = 'cron'): Trigger => ({ pipeline: 'p', logicalDate: d, kind, params: {}, firedAt: d });
    input.next(t(1));
    input.next(t(2));
    input.next(t(3));
    input.next(t(4, 'manual'));
    await new Promise((r) => setTimeout(r, 10));
    expect(out.map((x) => [x.logicalDate, x.skipReason ?? null])).toEqual([
      [1, 'gate: Kafka is unhealthy (ECONNREFUSED)'],
      [2, 'gate: closed'],
      [3, null],
      [4, null],
    ]);
  });
});
