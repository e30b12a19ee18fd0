import { Registry } from 'prom-client';

export type LabelValues = Record<string, string | number>;
export type Sample = { labels: LabelValues; value: number };

/** A metric that renders its own exposition text (see FastRegistry). */
interface TextMetric {
  renderText(): string;
  /** Pushes the same text as renderText, in pieces that joined with '\n' make it (no intermediate string of the whole metric). */
  renderInto?(out: string[]): void;
}

const NEEDS_ESCAPE = /[\\"\n]/;
/** A label value as the exposition format writes it (backslash, quote and newline escaped). */
export const escapeLabel = (v: string): string => (NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A sample value as the exposition format writes it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Pushes the exposition lines of some samples of one metric. The caller joins them with
 * Array#join so the result is one flat string: a string grown with `+=` is a rope that every
 * later join walks again, which made joining cached lines cost as much as rendering.
 */
function pushLines(name: string, samples: Iterable<Sample>, lines: string[]): void {
  for (const { labels, value } of samples) {
    let body = '';
    for (const key in labels) body += `${body ? ',' : ''}${key}="${escapeLabel(String(labels[key]))}"`;
    lines.push(`${name}${body ? `{${body}}` : ''} ${formatValue(value)}`);
  }
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

  /**
   * The same text as prom-client's metrics() (metrics joined by a blank line, a final newline),
   * built with one join over every metric's pieces: prom-client joins whole-metric strings and
   * appends the newline with `+`, which at 200,000 lag series meant a 68 MB string per gauge,
   * another for the join and a rope that the HTTP layer flattened into a third copy.
   */
  override async metrics(): Promise<string> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return super.metrics();
    const metrics = this.getMetricsAsArray() as unknown as Array<Partial<TextMetric>>;
    const self = this as unknown as { getMetricsAsString(metric: unknown): Promise<string> };
    // prom-client's own metrics may be async (collect callbacks): formatted concurrently, as metrics() does
    const formatted = await Promise.all(metrics.map((m) => (typeof m.renderInto === 'function' ? Promise.resolve('') : self.getMetricsAsString(m))));
    const out: string[] = [];
    metrics.forEach((m, i) => {
      if (i > 0) out.push(''); // with the '\n' separators: the blank line between metrics
      if (typeof m.renderInto === 'function') m.renderInto(out);
      else out.push(formatted[i]!);
    });
    out.push('');
    return out.join('\n');
  }
}

/** Samples computed from the whole state at every scrape (for values that depend on the scrape's clock or on several items). */
interface CollectEveryScrape {
  collect: () => Iterable<Sample>;
}

/**
 * Samples that depend on one immutable item only (a probe result). Each item's lines are
 * rendered once and kept until a scrape no longer finds the item (see renderInto), so a scrape of
 * unchanged state joins strings instead of rebuilding ~45,000 label sets.
 */
interface CollectPerItem<T extends object> {
  items: () => Iterable<T>;
  samples: (item: T) => Iterable<Sample>;
  /**
   * Optional fast path: pushes pieces of the item's exposition text (`name` is the metric's)
   * whose concatenation is exactly what `samples` renders: its lines separated by '\n', no
   * newline after the last. Pieces can be shared strings (a label prefix, small numbers V8
   * caches), so a line allocates nothing of its own. For items with many samples (a consumer
   * group's partitions), where label objects and per-line strings cost more than the text.
   */
  lines?: (item: T, name: string, out: string[]) => void;
}

export type SnapshotGaugeParams<T extends object> = { name: string; help: string } & (CollectEveryScrape | CollectPerItem<T>);

/**
 * A gauge whose samples are computed at scrape time from the latest state. Registered on an
 * injected Registry like any other metric; on a FastRegistry it renders its own text.
 */
/** Items whose lines are rendered and kept together (see renderInto). */
const BATCH = 128;

export function registerSnapshotGauge<T extends object>(registry: Registry, params: SnapshotGaugeParams<T>): void {
  const { name, help } = params;
  const header = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} gauge`;
  let collect: () => Iterable<Sample>;
  let renderInto: (out: string[]) => void;
  if ('collect' in params) {
    collect = params.collect;
    renderInto = (out) => {
      out.push(header);
      pushLines(name, params.collect(), out);
    };
  } else {
    const { items, samples, lines: fast } = params;
    // The lines of the last scrape, in batches of BATCH consecutive items with the items they
    // came from. The state's items keep their order between scrapes, so batch k usually holds
    // the same items again and its text is reused; a batch with any other item is rendered anew.
    // Batches, not single items: a batch of a consumer group's partition lines is a few hundred
    // KB, which V8 allocates in its large-object space directly, where 100,000 per-item strings
    // (46 MB at 10,000 groups) went through the young generation and were copied out of it at
    // every scavenge. This also replaced a WeakMap keyed by the item, whose 100,000 entries a
    // cycle were ephemerons that every major GC had to iterate.
    let lastBatches: Array<{ items: T[]; text: string }> = [];
    collect = function* () {
      for (const item of items()) yield* samples(item);
    };
    const scratch: string[] = [];
    const render = (item: T): string => {
      scratch.length = 0;
      let text: string;
      if (fast) {
        fast(item, name, scratch);
        text = scratch.join('');
      } else {
        pushLines(name, samples(item), scratch);
        text = scratch.join('\n');
      }
      scratch.length = 0;
      return text;
    };
    renderInto = (out) => {
      out.push(header);
      const batches: Array<{ items: T[]; text: string }> = [];
      let current: T[] = [];
      const parts: string[] = [];
      const flush = (): void => {
        const last = lastBatches[batches.length];
        let text: string;
        if (last && last.items.length === current.length && last.items.every((it, i) => it === current[i])) text = last.text;
        else {
          parts.length = 0;
          for (const item of current) {
            const lines = render(item);
            if (lines) parts.push(lines);
          }
          text = parts.join('\n');
          parts.length = 0;
        }
        batches.push({ items: current, text });
        if (text) out.push(text);
        current = [];
      };
      for (const item of items()) {
        current.push(item);
        if (current.length === BATCH) flush();
      }
      if (current.length > 0) flush();
      lastBatches = batches;
    };
  }
  const renderText = (): string => {
    const out: string[] = [];
    renderInto(out);
    return out.join('\n');
  };
  const metric = {
    name,
    help,
    type: 'gauge' as const,
    aggregator: 'omit' as const,
    get: async () => ({ name, help, type: 'gauge', aggregator: 'omit', values: [...collect()] }),
    renderText,
    renderInto,
    reset: () => undefined,
  };
  registry.registerMetric(metric as never);
}
