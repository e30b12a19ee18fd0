/** Synthetic consumer_lag signals shaped exactly like the lag check's (one per group, N partitions each). */
import type { ConsumerLagFacts, PartitionLag, Signal } from '../../src/protocol';

export function lagSignals(groups: number, partitions: number, opts: { topic?: string; now?: number; check?: string } = {}): Signal[] {
  const topic = opts.topic ?? 'bench-lag';
  const now = opts.now ?? Date.now();
  const out: Signal[] = [];
  for (let g = 0; g < groups; g++) {
    const group = `bench-group-${String(g).padStart(5, '0')}`;
    const parts: PartitionLag[] = [];
    let total = 0;
    for (let p = 0; p < partitions; p++) {
      const endOffset = 1000 + p;
      const committed = endOffset - ((g + p) % 50);
      total += endOffset - committed;
      parts.push({ topic, partition: p, committedOffset: committed, endOffset, lag: endOffset - committed, lagSeconds: (g + p) % 7, status: 'OK' });
    }
    const facts: ConsumerLagFacts = { kind: 'consumer_lag', group, status: 'OK', totalLag: total, maxLagSeconds: 6, partitions: parts, groupState: 'Empty' };
    out.push({
      check: opts.check ?? 'consumer_lag',
      kind: 'consumer_lag',
      target: group,
      labels: { group },
      status: 'ok',
      value: total,
      unit: 'messages',
      observedAt: now,
      durationMs: 5,
      summary: `group ${group} OK`,
      facts,
    });
  }
  return out;
}

/** Series lines (not comments) in a Prometheus text exposition. */
export function countSeries(text: string): number {
  let n = 0;
  let i = 0;
  while (i < text.length) {
    const j = text.indexOf('\n', i);
    const end = j === -1 ? text.length : j;
    if (end > i && text.charCodeAt(i) !== 35 /* # */) n++;
    i = end + 1;
  }
  return n;
}
