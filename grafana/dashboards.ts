/**
 * Dashboards as code. `buildDashboards()` returns every dashboard as the JSON Grafana loads;
 * `grafana/generate.ts` writes them to `grafana/dashboards/` (and `--check`s them), the unit
 * tests compare them with the committed files and check every query against the metrics the
 * supervisor exports.
 *
 * The overview is built row by row in `grafana/overview/` (one module per row), the lag
 * dashboard in `grafana/kafka-lag.ts`, both from the panel factory of `grafana/panels.ts`.
 * Metric names and labels come from `src/metrics/` (one file per family: signal-metrics.ts,
 * pipelines.ts, alerts.ts, outbox.ts, registry.ts).
 */
import { KAFKA_LAG_UID, kafkaLagDashboard as buildKafkaLag } from './kafka-lag';
import { OVERVIEW_UID, overviewDashboard as buildOverview } from './overview';

export { CHECK_STATUS_MAPPINGS, LAG_STATUS_MAPPINGS } from './mappings';
export { KAFKA_LAG_UID, OVERVIEW_UID };

export interface GeneratedDashboard {
  /** File name under grafana/dashboards/. */
  file: string;
  uid: string;
  json: Record<string, unknown>;
}

/** Tags of every generated dashboard (their header links list the dashboards with these tags). */
const TAGS = ['pipeline-supervisor'];

export function overviewDashboard(): Record<string, unknown> {
  return buildOverview(TAGS);
}

export function kafkaLagDashboard(): Record<string, unknown> {
  return buildKafkaLag(TAGS);
}

export function buildDashboards(): GeneratedDashboard[] {
  return [
    { file: 'pipeline-supervisor-overview.json', uid: OVERVIEW_UID, json: overviewDashboard() },
    { file: 'pipeline-supervisor-kafka-lag.json', uid: KAFKA_LAG_UID, json: kafkaLagDashboard() },
  ];
}

/** The exact bytes written for a dashboard. */
export function serialize(json: unknown): string {
  return `${JSON.stringify(json, null, 2)}\n`;
}
