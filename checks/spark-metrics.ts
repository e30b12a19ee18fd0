/**
 * Structured Streaming query gauges from a Spark driver's metrics servlet. With
 * `spark.sql.streaming.metricsEnabled=true` each query registers a metrics source
 * `spark.streaming.<queryName>` with gauges `inputRate-total`, `processingRate-total`,
 * `latency`, `eventTime-watermark`, `states-rowsTotal`, `states-usedBytes` (values of the
 * query's last progress). Two servlets expose them on the driver UI:
 *
 * - `/metrics/json` (Dropwizard JSON, on by default):
 *   `{"gauges": {"<ns>.driver.spark.streaming.<query>.inputRate-total": {"value": 12.5}}}`;
 * - `/metrics/prometheus` (PrometheusServlet, when configured):
 *   `metrics_<ns>_driver_spark_streaming_<query>_inputRate_total_Value{type="gauges"} 12.5`
 *   where every non-alphanumeric character of the key became `_`.
 *
 * `<ns>` is `spark.metrics.namespace` (default: the application id).
 */
import { SupervisorError } from '../src/protocol';

export interface QueryGauges {
  /** Query name as it appears in the metrics (normalised with `_` in the Prometheus format). */
  name: string;
  inputRowsPerSecond: number | null;
  processedRowsPerSecond: number | null;
  /** Duration of the last trigger, ms. */
  latencyMs: number | null;
  /** Event-time watermark, epoch ms (0 when the query has none). */
  watermarkMs: number | null;
  stateRows: number | null;
}

type GaugeName = 'inputRate-total' | 'processingRate-total' | 'latency' | 'eventTime-watermark' | 'states-rowsTotal';
const GAUGES: readonly GaugeName[] = ['inputRate-total', 'processingRate-total', 'latency', 'eventTime-watermark', 'states-rowsTotal'];

/** Normalises like Spark's PrometheusServlet: every character outside [a-zA-Z0-9] becomes `_`. */
export function prometheusName(name: string): string {
  return name.replace(/[^a-zA-Z0-9]/g, '_');
}

function emptyQuery(name: string): QueryGauges {
  return { name, inputRowsPerSecond: null, processedRowsPerSecond: null, latencyMs: null, watermarkMs: null, stateRows: null };
}

function assign(q: QueryGauges, gauge: GaugeName, value: number): void {
  switch (gauge) {
    case 'inputRate-total':
      q.inputRowsPerSecond = value;
      break;
    case 'processingRate-total':
      q.processedRowsPerSecond = value;
      break;
    case 'latency':
      q.latencyMs = value;
      break;
    case 'eventTime-watermark':
      q.watermarkMs = value;
      break;
    case 'states-rowsTotal':
      q.stateRows = value;
      break;
  }
}

/** Parses either servlet's answer (detected from the body). `where` names the URL in errors. */
export function parseStreamingMetrics(body: string, where: string): { format: 'json' | 'prometheus'; queries: QueryGauges[] } {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('{')) return { format: 'json', queries: parseDropwizardJson(trimmed, where) };
  return { format: 'prometheus', queries: parsePrometheusText(body, where) };
}

export function parseDropwizardJson(body: string, where: string): QueryGauges[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new SupervisorError('SUP_ERR_SPARK_BAD_RESPONSE', `driver metrics are not valid JSON (${(err as Error).message})`, { where });
  }
  const gauges = (doc as { gauges?: unknown } | null)?.gauges;
  if (gauges === null || typeof gauges !== 'object' || Array.isArray(gauges)) {
    throw new SupervisorError('SUP_ERR_SPARK_BAD_RESPONSE', 'driver metrics JSON has no "gauges" object', { where });
  }
  const byName = new Map<string, QueryGauges>();
  const re = new RegExp(`\\.driver\\.spark\\.streaming\\.(.+)\\.(${GAUGES.map(escapeRe).join('|')})$`);
  for (const [key, g] of Object.entries(gauges as Record<string, unknown>)) {
    const m = re.exec(key);
    if (!m) continue;
    const value = (g as { value?: unknown } | null)?.value;
    const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
    if (!Number.isFinite(n)) continue;
    const name = m[1]!;
    const q = byName.get(name) ?? emptyQuery(name);
    assign(q, m[2] as GaugeName, n);
    byName.set(name, q);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function parsePrometheusText(body: string, where: string): QueryGauges[] {
  const byName = new Map<string, QueryGauges>();
  const suffixes = GAUGES.map((g) => [prometheusName(g), g] as const);
  const re = new RegExp(`_driver_spark_streaming_(.+)_(${suffixes.map(([s]) => s).join('|')})_(?:Value|Number)$`);
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // name{labels} value [timestamp] — Spark's labels never contain spaces.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m || !(Number.isFinite(Number(m[3])) || /^(?:NaN|[+-]?Inf)$/.test(m[3]!))) {
      throw new SupervisorError('SUP_ERR_SPARK_BAD_RESPONSE', `driver metrics line is not Prometheus text exposition: "${line.slice(0, 120)}"`, {
        where,
      });
    }
    const g = re.exec(m[1]!);
    if (!g) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const name = g[1]!;
    const gauge = suffixes.find(([s]) => s === g[2])![1];
    const q = byName.get(name) ?? emptyQuery(name);
    assign(q, gauge, value);
    byName.set(name, q);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}
