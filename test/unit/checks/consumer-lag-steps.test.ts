/** The consumer-lag probe's steps: topics to judge per group, evaluating a group, the no-group signal. */
import { evaluateGroup, noGroupSignal, topicsToJudge } from '../../../checks/consumer-lag';

const NOW = Date.parse('2025-10-05T00:10:00Z');
const commits = (m: Record<string, Record<number, number>>) =>
  new Map(Object.entries(m).map(([t, parts]) => [t, new Map(Object.entries(parts).map(([p, offset]) => [Number(p), [{ offset, timestamp: NOW - 1000 }]]))]));

describe('consumer-lag steps', () => {
  it('topicsToJudge: configured and committed topics per group, within the filter; end offsets only of existing topics', () => {
    const partitionsOf = new Map([
      ['orders', [0, 1]],
      ['payments', [0]],
    ]);
    const committed: Record<string, ReturnType<typeof commits>> = { g1: commits({ orders: { 0: 5 } }), g2: commits({ payments: { 0: 1 }, audit: { 0: 1 } }) };
    const all = topicsToJudge(['g1', 'g2'], (g) => committed[g], [], null, partitionsOf);
    expect(Object.fromEntries(all.topicsOfGroup)).toEqual({ g1: ['orders'], g2: ['audit', 'payments'] });
    expect(all.needed).toEqual(['orders', 'payments']);
    const filtered = topicsToJudge(['g1', 'g2'], (g) => committed[g], ['missing'], new Set(['orders', 'missing']), partitionsOf);
    expect(Object.fromEntries(filtered.topicsOfGroup)).toEqual({ g1: ['missing', 'orders'], g2: ['missing'] });
    expect(filtered.needed).toEqual(['orders']);
  });

  it('evaluateGroup: one lag per partition with an end offset; a missing topic is a problem', () => {
    const partitionsOf = new Map([['orders', [0, 1]]]);
    const ends = new Map([
      [
        'orders',
        new Map([
          [0, 10],
          [1, 3],
        ]),
      ],
    ]);
    const { partitions, problems } = evaluateGroup(['gone', 'orders'], partitionsOf, ends, commits({ orders: { 0: 4, 1: 3 } }), () => [], NOW, 60_000);
    expect(problems).toEqual(['topic gone does not exist']);
    expect(partitions.map((p) => [p.topic, p.partition, p.lag])).toEqual([
      ['orders', 0, 6],
      ['orders', 1, 0],
    ]);
  });

  it('noGroupSignal: ok, target *, says nothing matched', () => {
    expect(noGroupSignal('lag', NOW - 20, NOW)).toEqual({
      check: 'lag',
      kind: 'consumer_lag',
      target: '*',
      labels: {},
      status: 'ok',
      value: 0,
      unit: 'messages',
      observedAt: NOW,
      durationMs: 20,
      summary: 'no consumer group matches the selection',
    });
  });
});
