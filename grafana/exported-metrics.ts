/**
 * Which metric names the supervisor exports, from two sources the tests combine:
 *  - a real `/metrics` scrape (`# TYPE` lines list every registered metric, even a labelled
 *    counter or histogram that has no sample yet);
 *  - the metric definitions in the source (`new Counter({ name: 'supervisor_…' })`, the
 *    `gauge('supervisor_…', …)` helpers of src/metrics/signal-metrics.ts), for metrics whose
 *    component is not wired into the daemon the scrape came from.
 * Histograms and summaries expand to the series names Prometheus stores (_bucket, _sum, _count).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export const REPO_ROOT = path.resolve(__dirname, '..');
/** Where the supervisor's metrics are defined. */
export const METRIC_SOURCE_DIRS = ['src', 'alerts', 'streams', 'checks'];

/** Series names Prometheus stores for a metric of this type. */
export function seriesNames(name: string, type: MetricType): string[] {
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/** Metric name → type from the `# TYPE` lines of a Prometheus text exposition. */
export function typesFromExposition(text: string): Map<string, MetricType> {
  const types = new Map<string, MetricType>();
  for (const m of text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/gm)) types.set(m[1] as string, m[2] as MetricType);
  return types;
}

function* sourceFiles(dir: string): Generator<string> {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield full;
  }
}

/** Metric name → type from the metric definitions in the source tree. */
export function typesFromSource(root = REPO_ROOT): Map<string, MetricType> {
  const types = new Map<string, MetricType>();
  const kinds: Record<string, MetricType> = { Counter: 'counter', Gauge: 'gauge', Histogram: 'histogram', Summary: 'summary' };
  for (const dir of METRIC_SOURCE_DIRS) {
    for (const file of sourceFiles(path.join(root, dir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new\s+(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(\s*\{\s*name:\s*'([a-z_:][a-z0-9_:]*)'/g))
        types.set(m[2] as string, kinds[m[1] as string] as MetricType);
      // helpers that register a snapshot gauge: perSignal('supervisor_…', …), perFacts('spark', 'supervisor_…', …), kafka('…'), partition('…'), delta('…'), spark('…'), query('…')
      for (const m of text.matchAll(
        /\b(?:perSignal|perFacts|everyScrape|kafka|partition|delta|spark|query|registerSnapshotGauge)\(\s*(?:'[a-z_]+',\s*)?'(supervisor_[a-z0-9_]+)'/g,
      ))
        if (!types.has(m[1] as string)) types.set(m[1] as string, 'gauge');
    }
  }
  return types;
}

/** Every series name the given metrics produce. */
export function allSeriesNames(...sources: Array<Map<string, MetricType>>): Set<string> {
  const names = new Set<string>();
  for (const types of sources) for (const [name, type] of types) for (const s of seriesNames(name, type)) names.add(s);
  return names;
}
