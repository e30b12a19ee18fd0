import type { Registry } from 'prom-client';

export type LabelValues = Record<string, string | number>;
export type Sample = { labels: LabelValues; value: number };

/**
 * A gauge whose samples are computed at scrape time from the latest state, without the
 * label-hashing bookkeeping of prom-client's Gauge#set: with 40,000 lag series a scrape stays
 * a single pass over the state. Registered on an injected Registry like any other metric.
 */
export function registerSnapshotGauge(registry: Registry, params: { name: string; help: string; collect: () => Iterable<Sample> }): void {
  const metric = {
    name: params.name,
    help: params.help,
    type: 'gauge' as const,
    aggregator: 'omit' as const,
    get: async () => ({ name: params.name, help: params.help, type: 'gauge', aggregator: 'omit', values: [...params.collect()] }),
    reset: () => undefined,
  };
  registry.registerMetric(metric as never);
}
