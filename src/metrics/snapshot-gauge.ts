import { Registry } from 'prom-client';

export type LabelValues = Record<string, string | number>;
export type Sample = { labels: LabelValues; value: number };

/** A metric that renders its own exposition text (see FastRegistry). */
interface TextMetric {
  renderText(): string;
}

const NEEDS_ESCAPE = /[\\"\n]/;
const escapeLabel = (v: string): string => (NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Exposition lines of some samples of one metric, joined by newlines ('' when there are none).
 * Built with Array#join so the result is one flat string: a string grown with `+=` is a rope
 * that every later join walks again, which made joining cached lines cost as much as rendering.
 */
function renderLines(name: string, samples: Iterable<Sample>): string {
  const lines: string[] = [];
  for (const { labels, value } of samples) {
    let body = '';
    for (const key in labels) body += `${body ? ',' : ''}${key}="${escapeLabel(String(labels[key]))}"`;
    lines.push(`${name}${body ? `{${body}}` : ''} ${formatValue(value)}`);
  }
  return lines.join('\n');
}

/**
 * A prom-client Registry that lets a metric render its own text. prom-client formats every
 * sample through generic label handling, which costs ~5 µs a series; the scrape-time gauges
 * below render straight from the state instead, so 40,000 lag series stay a single pass.
 * Everything else (process metrics, counters, histograms) is formatted by prom-client as usual.
 */
export class FastRegistry extends Registry {
  constructor() {
    super();
    // getMetricsAsString is what metrics() calls per metric (not in prom-client's typings)
    const self = this as unknown as { getMetricsAsString(metric: unknown): Promise<string> };
    const format = self.getMetricsAsString.bind(this);
    self.getMetricsAsString = async (metric) => {
      const text = metric as Partial<TextMetric>;
      return typeof text.renderText === 'function' ? text.renderText() : format(metric);
    };
  }
}

/** Samples computed from the whole state at every scrape (for values that depend on the scrape's clock or on several items). */
interface CollectEveryScrape {
  collect: () => Iterable<Sample>;
}

/**
 * Samples that depend on one immutable item only (a probe result). Each item's lines are
 * rendered once and kept while the item is alive (a WeakMap keyed by the item), so a scrape of
 * unchanged state joins strings instead of rebuilding ~45,000 label sets.
 */
interface CollectPerItem<T extends object> {
  items: () => Iterable<T>;
  samples: (item: T) => Iterable<Sample>;
}

export type SnapshotGaugeParams<T extends object> = { name: string; help: string } & (CollectEveryScrape | CollectPerItem<T>);

/**
 * A gauge whose samples are computed at scrape time from the latest state. Registered on an
 * injected Registry like any other metric; on a FastRegistry it renders its own text.
 */
export function registerSnapshotGauge<T extends object>(registry: Registry, params: SnapshotGaugeParams<T>): void {
  const { name, help } = params;
  const header = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} gauge`;
  let collect: () => Iterable<Sample>;
  let renderText: () => string;
  if ('collect' in params) {
    collect = params.collect;
    renderText = () => {
      const lines = renderLines(name, params.collect());
      return lines ? `${header}\n${lines}` : header;
    };
  } else {
    const { items, samples } = params;
    const rendered = new WeakMap<T, string>();
    collect = function* () {
      for (const item of items()) yield* samples(item);
    };
    renderText = () => {
      const chunks = [header];
      for (const item of items()) {
        let lines = rendered.get(item);
        if (lines === undefined) rendered.set(item, (lines = renderLines(name, samples(item))));
        if (lines) chunks.push(lines);
      }
      return chunks.join('\n');
    };
  }
  const metric = {
    name,
    help,
    type: 'gauge' as const,
    aggregator: 'omit' as const,
    get: async () => ({ name, help, type: 'gauge', aggregator: 'omit', values: [...collect()] }),
    renderText,
    reset: () => undefined,
  };
  registry.registerMetric(metric as never);
}
