import { Registry } from 'prom-client';
import { ByteWriter, bytesOf } from './byte-writer';
import { deflateSegment, DeflatedSegment, plainBuffer, type ExpositionChunk } from './deflate-segment';

export type LabelValues = Record<string, string | number>;
export type Sample = { labels: LabelValues; value: number };

/** A metric that renders its own exposition (see FastRegistry). */
interface ChunkMetric {
  renderText(): string;
  /** Pushes the metric's exposition as chunks: its header and lines, every line ending with '\n'. */
  renderChunks(out: ExpositionChunk[]): void;
  /**
   * Per-item gauges: the same rendering in steps (one per batch of items) for a background
   * refresh. When the iterator is done its result is kept, but served only after `commit`.
   */
  refreshSteps?(): Iterator<void, Pending>;
  /** Pushes what the last complete rendering wrote; false when there is none yet. */
  renderPublished?(out: ExpositionChunk[]): boolean;
}

/** A rendering finished in the background, made what scrapes serve by `commit`. */
interface Pending {
  commit(): void;
}

/** How long a background refresh renders before it lets the event loop serve requests. */
const SLICE_MS = 8;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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

/** A sample value written as `formatValue` writes it. */
export function writeValue(w: ByteWriter, v: number): void {
  if (Number.isFinite(v)) w.number(v);
  else w.text(formatValue(v));
}

/** Writes the exposition lines of some samples of one metric, each ending with '\n'. */
function writeLines(name: string, samples: Iterable<Sample>, w: ByteWriter): void {
  for (const { labels, value } of samples) {
    let body = '';
    for (const key in labels) body += `${body ? ',' : ''}${key}="${escapeLabel(String(labels[key]))}"`;
    w.text(body ? `${name}{${body}} ` : `${name} `);
    writeValue(w, value);
    w.newline();
  }
}

const BLANK_LINE = Buffer.from('\n');

/**
 * A prom-client Registry that lets a metric render its own exposition. prom-client formats
 * every sample through generic label handling, which costs ~5 µs a series, and as strings; the
 * scrape-time gauges below write bytes straight from the state and keep them between scrapes
 * (src/metrics/byte-writer.ts), so 200,000 lag series are one pass, off the V8 heap. Everything
 * else (process metrics, counters, histograms) is formatted by prom-client as usual.
 */
export class FastRegistry extends Registry {
  private refreshing = false;
  private again = false;
  private scheduled: NodeJS.Immediate | null = null;
  private closed = false;
  private lastRefresh: { ms: number; at: number } | null = null;

  constructor() {
    super();
    // getMetricsAsString is what metrics() calls per metric (not in prom-client's typings)
    const self = this as unknown as { getMetricsAsString(metric: unknown): Promise<string> };
    const format = self.getMetricsAsString.bind(this);
    self.getMetricsAsString = async (metric) => {
      const own = metric as Partial<ChunkMetric>;
      return typeof own.renderText === 'function' ? own.renderText() : format(metric);
    };
  }

  /**
   * The exposition as chunks whose text, concatenated, is exactly prom-client's metrics() text
   * (metrics separated by a blank line, a final newline): what /metrics sends, gzipped from the
   * kept compressed batches or inflated a batch at a time (src/metrics/deflate-segment.ts),
   * without making the whole text once more as a string.
   */
  async exposition(): Promise<ExpositionChunk[]> {
    const metrics = this.getMetricsAsArray() as unknown as Array<Partial<ChunkMetric>>;
    const self = this as unknown as { getMetricsAsString(metric: unknown): Promise<string> };
    // prom-client's own metrics may be async (collect callbacks): formatted concurrently, as metrics() does
    const formatted = await Promise.all(metrics.map((m) => (typeof m.renderChunks === 'function' ? Promise.resolve('') : self.getMetricsAsString(m))));
    const out: ExpositionChunk[] = [];
    metrics.forEach((m, i) => {
      if (i > 0) out.push(BLANK_LINE);
      if (typeof m.renderChunks === 'function') {
        // while a background refresh renders the gauges, scrapes get the last complete rendering
        if (!(this.refreshing && m.renderPublished?.(out))) m.renderChunks(out);
      } else out.push(Buffer.from(`${formatted[i]!}\n`, 'utf8'));
    });
    return out;
  }

  /**
   * The state the per-item gauges read has changed (a check's results landed): render them
   * again in the background, in slices of SLICE_MS that let requests in between, and serve
   * the new bytes once every gauge is done. Until then a scrape gets the last complete
   * rendering, so at 200,000 lag series a scrape right after a lag cycle is a send of kept
   * buffers, not a ~0.3 s render on the request's path. Calls while a refresh runs make it run
   * once more. A scrape that comes before the refresh started renders the new state itself.
   */
  invalidate(): void {
    if (this.closed) return;
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.scheduled ??= setImmediate(() => {
      this.scheduled = null;
      void this.refresh();
    });
  }

  /** Stops background refreshes (a refresh in flight ends at its next slice). */
  close(): void {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
  }

  /** How long the last pass of a background refresh took, from its start to its commit, and when it committed (for the benchmarks). */
  lastRefreshStats(): { ms: number; at: number } | null {
    return this.lastRefresh;
  }

  private async refresh(): Promise<void> {
    this.refreshing = true;
    try {
      do {
        this.again = false;
        const started = performance.now();
        const metrics = this.getMetricsAsArray() as unknown as Array<Partial<ChunkMetric>>;
        const pending: Pending[] = [];
        let sliceStart = performance.now();
        for (const m of metrics) {
          if (typeof m.refreshSteps !== 'function') continue;
          const steps = m.refreshSteps();
          for (;;) {
            const step = steps.next();
            if (step.done) {
              pending.push(step.value);
              break;
            }
            if (performance.now() - sliceStart < SLICE_MS) continue;
            await nextTurn();
            if (this.closed) return;
            sliceStart = performance.now();
          }
        }
        for (const p of pending) p.commit();
        this.lastRefresh = { ms: performance.now() - started, at: Date.now() };
      } while (this.again && !this.closed);
    } catch {
      // a gauge that cannot render: the scrape's own rendering reports it (a 500 naming the error)
    } finally {
      this.refreshing = false;
    }
  }

  override async metrics(): Promise<string> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return super.metrics();
    return plainBuffer(await this.exposition()).toString('utf8');
  }
}

/** Samples computed from the whole state at every scrape (for values that depend on the scrape's clock or on several items). */
interface CollectEveryScrape {
  collect: () => Iterable<Sample>;
}

/**
 * Samples that depend on one immutable item only (a probe result). Items' lines are written
 * once and kept until a scrape no longer finds the item (see renderChunks), so a scrape of
 * unchanged state sends the kept bytes instead of rebuilding ~45,000 label sets.
 */
interface CollectPerItem<T extends object> {
  items: () => Iterable<T>;
  samples: (item: T) => Iterable<Sample>;
  /**
   * Optional fast path: writes exactly the lines `samples` renders, each ending with '\n'
   * (`name` is the metric's). For items with many samples (a consumer group's partitions),
   * where label objects and per-line strings cost more than the bytes.
   */
  write?: (item: T, name: string, w: ByteWriter) => void;
}

export type SnapshotGaugeParams<T extends object> = { name: string; help: string } & (CollectEveryScrape | CollectPerItem<T>);

/** Items whose lines are written and kept together (see renderChunks). */
const BATCH = 128;

/**
 * A gauge whose samples are computed at scrape time from the latest state. Registered on an
 * injected Registry like any other metric; on a FastRegistry it renders its own exposition.
 */
export function registerSnapshotGauge<T extends object>(registry: Registry, params: SnapshotGaugeParams<T>): void {
  const { name, help } = params;
  const header = bytesOf(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} gauge\n`);
  // one writer per gauge, reused for every batch: writing allocates nothing per line
  const writer = new ByteWriter();
  let collect: () => Iterable<Sample>;
  let renderChunks: (out: ExpositionChunk[]) => void;
  let refreshSteps: (() => Iterator<void, Pending>) | undefined;
  let renderPublished: ((out: ExpositionChunk[]) => boolean) | undefined;
  if ('collect' in params) {
    collect = params.collect;
    renderChunks = (out) => {
      out.push(header);
      writeLines(name, params.collect(), writer);
      if (writer.length > 0) out.push(writer.take());
    };
  } else {
    const { items, samples, write } = params;
    // The bytes of the last scrape, in batches of BATCH consecutive items with the items they
    // came from. The state's items keep their order between scrapes, so batch k usually holds
    // the same items again and its bytes are reused; a batch with any other item is written anew.
    // Batches, not single items: 100,000 per-item strings or buffers are as many objects for the
    // GC; a batch of a consumer group's partition lines is a few hundred KB of text, kept
    // compressed outside the heap (tens of KB).
    type Batch = { items: T[]; bytes: DeflatedSegment | null };
    let lastBatches: Batch[] = [];
    let published: ExpositionChunk[] | null = null;
    collect = function* () {
      for (const item of items()) yield* samples(item);
    };
    // renders the batches of the current items, one step per batch; the caller commits the result
    function* render(): Generator<void, { batches: Batch[]; chunks: ExpositionChunk[] }> {
      const chunks: ExpositionChunk[] = [header];
      const batches: Batch[] = [];
      const previous = lastBatches;
      let current: T[] = [];
      const flush = (): void => {
        const last = previous[batches.length];
        let bytes: DeflatedSegment | null;
        if (last && last.items.length === current.length && last.items.every((it, i) => it === current[i])) bytes = last.bytes;
        else {
          for (const item of current) {
            if (write) write(item, name, writer);
            else writeLines(name, samples(item), writer);
          }
          bytes = writer.length > 0 ? deflateSegment(writer.written()) : null;
          writer.reset();
        }
        batches.push({ items: current, bytes });
        if (bytes) chunks.push(bytes);
        current = [];
      };
      for (const item of items()) {
        current.push(item);
        if (current.length === BATCH) {
          flush();
          yield;
        }
      }
      if (current.length > 0) flush();
      return { batches, chunks };
    }
    const keep = (r: { batches: Batch[]; chunks: ExpositionChunk[] }): void => {
      lastBatches = r.batches;
      published = r.chunks;
    };
    renderChunks = (out) => {
      const steps = render();
      let step = steps.next();
      while (!step.done) step = steps.next();
      keep(step.value);
      for (const c of step.value.chunks) out.push(c);
    };
    refreshSteps = function* () {
      const r = yield* render();
      return { commit: () => keep(r) };
    };
    renderPublished = (out) => {
      if (!published) return false;
      for (const c of published) out.push(c);
      return true;
    };
  }
  // prom-client's text of one metric: no newline after its last line
  const renderText = (): string => {
    const out: ExpositionChunk[] = [];
    renderChunks(out);
    return plainBuffer(out).toString('utf8').replace(/\n$/, '');
  };
  const metric = {
    name,
    help,
    type: 'gauge' as const,
    aggregator: 'omit' as const,
    get: async () => ({ name, help, type: 'gauge', aggregator: 'omit', values: [...collect()] }),
    renderText,
    renderChunks,
    ...(refreshSteps ? { refreshSteps, renderPublished } : {}),
    reset: () => undefined,
  };
  registry.registerMetric(metric as never);
}
