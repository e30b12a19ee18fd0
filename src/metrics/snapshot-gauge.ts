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
    // The items of the last scrape and their lines, in scrape order. The state's items keep their
    // order between scrapes, so the next scrape usually finds item i at position i; a Map of the
    // last scrape is built only when it does not. This replaced a WeakMap keyed by the item: at
    // 10,000 groups its 100,000 entries a cycle (one per gauge and signal) were ephemerons that
    // every major GC had to iterate, and they kept replaced items' lines until such a GC.
    let lastItems: T[] = [];
    let lastLines: string[] = [];
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
      const seenItems: T[] = [];
      const seenLines: string[] = [];
      let byItem: Map<T, string> | undefined;
      for (const item of items()) {
        const i = seenItems.length;
        let lines: string | undefined;
        if (lastItems[i] === item) lines = lastLines[i];
        else {
          byItem ??= new Map(lastItems.map((it, j) => [it, lastLines[j]!]));
          lines = byItem.get(item);
        }
        if (lines === undefined) lines = render(item);
        seenItems.push(item);
        seenLines.push(lines);
        if (lines) out.push(lines);
      }
      lastItems = seenItems;
      lastLines = seenLines;
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
