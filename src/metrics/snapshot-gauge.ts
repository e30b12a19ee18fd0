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

/**
 * A gauge whose samples are computed at scrape time from the latest state. Registered on an
 * injected Registry like any other metric; on a FastRegistry it renders its own text.
 */
export function registerSnapshotGauge(registry: Registry, params: { name: string; help: string; collect: () => Iterable<Sample> }): void {
  const header = `# HELP ${params.name} ${escapeHelp(params.help)}\n# TYPE ${params.name} gauge`;
  const metric = {
    name: params.name,
    help: params.help,
    type: 'gauge' as const,
    aggregator: 'omit' as const,
    get: async () => ({ name: params.name, help: params.help, type: 'gauge', aggregator: 'omit', values: [...params.collect()] }),
    renderText: (): string => {
      const lines: string[] = [header];
      for (const { labels, value } of params.collect()) {
        let body = '';
        for (const key in labels) body += `${body ? ',' : ''}${key}="${escapeLabel(String(labels[key]))}"`;
        lines.push(`${params.name}${body ? `{${body}}` : ''} ${formatValue(value)}`);
      }
      return lines.join('\n');
    },
    reset: () => undefined,
  };
  registry.registerMetric(metric as never);
}
