/**
 * Dashboards as code. `buildDashboards()` returns every dashboard as the JSON Grafana loads;
 * `grafana/generate.ts` writes them to `grafana/dashboards/` (and `--check`s them), the unit
 * tests compare them with the committed files and check every query against the metrics the
 * supervisor exports.
 *
 * Metric names and labels come from `src/metrics/signal-metrics.ts`, `src/metrics/registry.ts`,
 * `src/engine/metrics.ts`, `alerts/engine.ts` and `alerts/outbox-worker.ts`.
 */
import {
  createPanelIds,
  datasourceVariable,
  finish,
  labelVariable,
  lastValue,
  query,
  tableLegend,
  thresholdColors,
  thresholds,
  valueMappings,
} from './panels';
import { bargauge, common, dashboard, prometheus, stat, statetimeline, table, timeseries } from './sdk';

export interface GeneratedDashboard {
  /** File name under grafana/dashboards/. */
  file: string;
  uid: string;
  json: Record<string, unknown>;
}

export const OVERVIEW_UID = 'pipeline-supervisor';
export const KAFKA_LAG_UID = 'pipeline-supervisor-kafka-lag';
const TAGS = ['pipeline-supervisor'];

/** `supervisor_check_status`: 0 ok, 1 warn, 2 unknown, 3 crit (src/protocol/status.ts). */
export const CHECK_STATUS_MAPPINGS = valueMappings([
  [0, 'OK', 'green'],
  [1, 'WARN', 'yellow'],
  [2, 'UNKNOWN', 'orange'],
  [3, 'CRIT', 'red'],
]);

/** `supervisor_kafka_consumer_group_status`: Burrow states (LAG_STATUS_CODE in signal-metrics.ts). */
export const LAG_STATUS_MAPPINGS = valueMappings([
  [0, 'OK', 'green'],
  [1, 'WARN', 'yellow'],
  [2, 'STALL', 'red'],
  [3, 'STOP', 'red'],
  [4, 'REWIND', 'orange'],
  [5, 'ERR', 'red'],
  [6, 'NOTFOUND', 'purple'],
]);

/** Codes of the "pipeline runs" state timeline (worst outcome of the runs that ended in each interval). */
const RUN_OUTCOME_MAPPINGS = valueMappings([
  [1, 'success', 'green'],
  [2, 'skipped', 'blue'],
  [3, 'failed', 'red'],
]);

/** Keep only the supervisor's own process_* / nodejs_* series (Prometheus and Alertmanager export process_* too). */
const SUPERVISOR_ONLY = 'and on (job, instance) supervisor_build_info';

const check = 'check=~"$check"';
const pipeline = 'pipeline=~"$pipeline"';
const group = 'group=~"$group"';

function runOutcomeExpr(): string {
  const ended = (states: string) => `sum by (pipeline) (increase(supervisor_pipeline_runs_total{${pipeline},state=~"${states}"}[$__rate_interval])) > 0`;
  // One series per pipeline: label_replace gives each outcome a distinct label set so `or`
  // keeps all of them, then `max by (pipeline)` picks the worst.
  return [
    'max by (pipeline) (',
    `    label_replace((${ended('success')}) * 0 + 1, "outcome", "success", "", "")`,
    `  or label_replace((${ended('skipped')}) * 0 + 2, "outcome", "skipped", "", "")`,
    `  or label_replace((${ended('failed|timed_out')}) * 0 + 3, "outcome", "failed", "", "")`,
    ')',
  ].join('\n');
}

export function overviewDashboard(): Record<string, unknown> {
  const id = createPanelIds();
  const row = (title: string) => new dashboard.RowBuilder(title).id(id());

  const b = new dashboard.DashboardBuilder('Pipeline Supervisor — overview')
    .uid(OVERVIEW_UID)
    .description('Kafka → Spark Structured Streaming → Delta Lake pipeline as seen by the supervisor: checks, freshness, lag, Spark, pipeline runs, alerts.')
    .tags(TAGS)
    .editable()
    .timezone('browser')
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(new dashboard.DashboardLinkBuilder('Pipeline Supervisor').type(dashboard.DashboardLinkType.Dashboards).tags(TAGS).asDropdown(false).includeVars(true).keepTime(true))
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('check', 'check', 'supervisor_check_status', 'Check'))
    .withVariable(labelVariable('group', 'group', 'supervisor_kafka_consumer_group_status', 'Consumer group'))
    .withVariable(labelVariable('pipeline', 'pipeline', 'supervisor_pipeline_active_runs', 'Pipeline'));

  // ---------------------------------------------------------------- Health
  b.withRow(row('Health'));
  b.withPanel(
    finish(
      new stat.PanelBuilder()
        .title('Check status')
        .mappings(CHECK_STATUS_MAPPINGS)
        .thresholds(thresholds([[null, 'green'], [1, 'yellow'], [2, 'orange'], [3, 'red']]))
        .colorScheme(thresholdColors())
        .colorMode(common.BigValueColorMode.Background)
        .graphMode(common.BigValueGraphMode.None)
        .textMode(common.BigValueTextMode.ValueAndName)
        .reduceOptions(lastValue()),
      id(),
      { w: 24, h: 4 },
      'Latest status of every check (supervisor_check_status).',
      [query(`max by (check) (supervisor_check_status{${check}})`, { legend: '{{check}}', instant: true })],
    ),
  );
  b.withPanel(
    finish(
      new statetimeline.PanelBuilder()
        .title('Check status over time')
        .mappings(CHECK_STATUS_MAPPINGS)
        .thresholds(thresholds([[null, 'green'], [1, 'yellow'], [2, 'orange'], [3, 'red']]))
        .colorScheme(thresholdColors())
        .showValue(common.VisibilityMode.Never)
        .mergeValues(true),
      id(),
      { w: 16, h: 8 },
      'Status history per check: OK, WARN, UNKNOWN (the probe could not run), CRIT.',
      [query(`max by (check) (supervisor_check_status{${check}})`, { legend: '{{check}}' })],
    ),
  );
  b.withPanel(
    finish(
      new stat.PanelBuilder()
        .title('Checks answering')
        .unit('percentunit')
        .min(0)
        .max(1)
        .thresholds(thresholds([[null, 'red'], [0.99, 'green']]))
        .colorScheme(thresholdColors())
        .graphMode(common.BigValueGraphMode.Area)
        .reduceOptions(lastValue()),
      id(),
      { w: 4, h: 8 },
      'Share of checks whose probe could run and get an answer (supervisor_check_up).',
      [query(`sum(supervisor_check_up{${check}}) / count(supervisor_check_up{${check}})`, { legend: 'up' })],
    ),
  );
  b.withPanel(
    finish(
      new stat.PanelBuilder().title('Supervisor version').textMode(common.BigValueTextMode.Name).colorMode(common.BigValueColorMode.None).graphMode(common.BigValueGraphMode.None).reduceOptions(lastValue()),
      id(),
      { w: 4, h: 8 },
      'supervisor_build_info: the running version and Node.js version.',
      [query('max by (version, nodejs) (supervisor_build_info)', { legend: '{{version}} (node {{nodejs}})', instant: true })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Check duration').unit('s').legend(tableLegend(['mean', 'max'])),
      id(),
      { w: 12, h: 7 },
      'How long the last run of each check took.',
      [query(`max by (check) (supervisor_check_duration_seconds{${check}})`, { legend: '{{check}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Time since last check run').unit('s').legend(tableLegend(['lastNotNull', 'max'])),
      id(),
      { w: 12, h: 7 },
      'Seconds since each check last finished; a growing line means its scheduler is stuck.',
      [query(`time() - max by (check) (supervisor_check_last_run_timestamp_seconds{${check}})`, { legend: '{{check}}' })],
    ),
  );

  // ---------------------------------------------------------------- Data freshness
  b.withRow(row('Data freshness (Delta bronze / silver / gold)'));
  b.withPanel(
    finish(
      new bargauge.PanelBuilder()
        .title('Freshness against threshold')
        .unit('percentunit')
        .min(0)
        .max(1.5)
        .thresholds(thresholds([[null, 'green'], [0.8, 'yellow'], [1, 'red']]))
        .colorScheme(thresholdColors())
        .displayMode(common.BarGaugeDisplayMode.Gradient)
        .orientation(common.VizOrientation.Horizontal)
        .reduceOptions(lastValue()),
      id(),
      { w: 8, h: 8 },
      'Age of the newest data-changing commit divided by the layer threshold (100% = stale).',
      [
        query('max by (check, table) (supervisor_delta_freshness_seconds) / on (check, table) max by (check, table) (supervisor_delta_freshness_threshold_seconds)', {
          legend: '{{check}}',
          instant: true,
        }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder()
        .title('Freshness per layer')
        .unit('s')
        .legend(tableLegend(['lastNotNull', 'max']))
        .overrideByRegexp('.*threshold$', [
          { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
          { id: 'custom.lineWidth', value: 2 },
        ]),
      id(),
      { w: 10, h: 8 },
      'supervisor_delta_freshness_seconds per table with its threshold (dashed).',
      [
        query('max by (check) (supervisor_delta_freshness_seconds)', { legend: '{{check}}' }),
        query('max by (check) (supervisor_delta_freshness_threshold_seconds)', { legend: '{{check}} threshold' }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new stat.PanelBuilder().title('Delta table version').colorMode(common.BigValueColorMode.None).graphMode(common.BigValueGraphMode.Area).textMode(common.BigValueTextMode.ValueAndName).reduceOptions(lastValue()),
      id(),
      { w: 6, h: 8 },
      'Newest version of each table log.',
      [query('max by (check) (supervisor_delta_table_version)', { legend: '{{check}}' })],
    ),
  );

  // ---------------------------------------------------------------- Kafka
  b.withRow(row('Kafka'));
  b.withPanel(
    finish(
      new stat.PanelBuilder().title('Brokers').colorMode(common.BigValueColorMode.None).textMode(common.BigValueTextMode.ValueAndName).graphMode(common.BigValueGraphMode.None).reduceOptions(lastValue()),
      id(),
      { w: 4, h: 6 },
      'Brokers in the cluster metadata against the expected count.',
      [query('sum(supervisor_kafka_brokers)', { legend: 'alive' }), query('sum(supervisor_kafka_brokers_expected)', { legend: 'expected' })],
    ),
  );
  b.withPanel(
    finish(
      new stat.PanelBuilder()
        .title('Partitions and topics')
        .thresholds(thresholds([[null, 'green'], [1, 'red']]))
        .colorScheme(thresholdColors())
        .colorMode(common.BigValueColorMode.Background)
        .textMode(common.BigValueTextMode.ValueAndName)
        .graphMode(common.BigValueGraphMode.None)
        .reduceOptions(lastValue()),
      id(),
      { w: 6, h: 6 },
      'Partitions without a leader, under-replicated partitions, required topics missing, controller absent.',
      [
        query('sum(supervisor_kafka_partitions_offline)', { legend: 'offline' }),
        query('sum(supervisor_kafka_partitions_under_replicated)', { legend: 'under-replicated' }),
        query('sum(supervisor_kafka_topics_missing)', { legend: 'topics missing' }),
        query('count(supervisor_kafka_controller_present == 0) or vector(0)', { legend: 'no controller' }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new stat.PanelBuilder()
        .title('Schema registry')
        .thresholds(thresholds([[null, 'red'], [1, 'green']]))
        .colorScheme(thresholdColors())
        .colorMode(common.BigValueColorMode.Background)
        .textMode(common.BigValueTextMode.ValueAndName)
        .graphMode(common.BigValueGraphMode.None)
        .mappings(valueMappings([[0, 'DOWN', 'red'], [1, 'UP', 'green']]))
        .reduceOptions(lastValue())
        .overrideByName('subjects missing', [
          { id: 'mappings', value: [] },
          { id: 'thresholds', value: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 1, color: 'red' }] } },
        ]),
      id(),
      { w: 4, h: 6 },
      'Registry reachable, and required subjects that do not exist.',
      [query('min(supervisor_schema_registry_up)', { legend: 'registry' }), query('sum(supervisor_schema_registry_subject_missing)', { legend: 'subjects missing' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Consumer group lag (messages)').unit('short').min(0).legend(tableLegend()),
      id(),
      { w: 5, h: 6 },
      'Total lag per consumer group (groups that never committed are absent).',
      [query(`sum by (group) (supervisor_kafka_consumer_group_lag_messages{${group}})`, { legend: '{{group}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Consumer group lag (seconds)').unit('s').min(0).legend(tableLegend()),
      id(),
      { w: 5, h: 6 },
      'Largest estimated time lag per group, interpolated from end-offset history.',
      [query(`max by (group) (supervisor_kafka_consumer_group_lag_seconds{${group}})`, { legend: '{{group}}' })],
    ),
  );
  b.withPanel(
    finish(
      new statetimeline.PanelBuilder().title('Consumer group status').mappings(LAG_STATUS_MAPPINGS).colorScheme(thresholdColors()).thresholds(thresholds([[null, 'green'], [1, 'yellow'], [2, 'red']])).mergeValues(true),
      id(),
      { w: 24, h: 5 },
      'Burrow-style evaluation of each group over its sliding window.',
      [query(`max by (group) (supervisor_kafka_consumer_group_status{${group}})`, { legend: '{{group}}' })],
    ),
  );

  // ---------------------------------------------------------------- Spark
  b.withRow(row('Spark'));
  b.withPanel(
    finish(
      new stat.PanelBuilder()
        .title('Master and workers')
        .colorMode(common.BigValueColorMode.Background)
        .textMode(common.BigValueTextMode.ValueAndName)
        .graphMode(common.BigValueGraphMode.None)
        .thresholds(thresholds([[null, 'red'], [1, 'green']]))
        .colorScheme(thresholdColors())
        .reduceOptions(lastValue())
        .overrideByName('master', [{ id: 'mappings', value: valueMappings([[0, 'DOWN', 'red'], [1, 'ALIVE', 'green']]) }])
        .overrideByName('expected', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }]),
      id(),
      { w: 6, h: 6 },
      'Master status ALIVE, alive workers against the expected count.',
      [
        query('min(supervisor_spark_master_alive)', { legend: 'master' }),
        query('sum(supervisor_spark_workers_alive)', { legend: 'workers' }),
        query('sum(supervisor_spark_workers_expected)', { legend: 'expected' }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new statetimeline.PanelBuilder().title('Streaming applications').mappings(valueMappings([[0, 'NOT RUNNING', 'red'], [1, 'RUNNING', 'green']])).mergeValues(true),
      id(),
      { w: 8, h: 6 },
      'Expected applications RUNNING on the master.',
      [query('max by (app) (supervisor_spark_app_up)', { legend: '{{app}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Application uptime').unit('s').legend(tableLegend(['lastNotNull'])),
      id(),
      { w: 10, h: 6 },
      'How long each application has been running (restarts show as drops).',
      [query('max by (app) (supervisor_spark_app_duration_seconds)', { legend: '{{app}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Streaming rows per second').unit('rowsps').min(0).legend(tableLegend(['mean', 'lastNotNull'])),
      id(),
      { w: 14, h: 7 },
      'Input rate against processing rate of each Structured Streaming query; processed below input means the query falls behind.',
      [
        query('max by (query) (supervisor_spark_streaming_input_rows_per_second)', { legend: '{{query}} input' }),
        query('max by (query) (supervisor_spark_streaming_processed_rows_per_second)', { legend: '{{query}} processed' }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Last progress age').unit('s').min(0).legend(tableLegend(['lastNotNull', 'max'])),
      id(),
      { w: 10, h: 7 },
      'Seconds since each streaming query last reported progress.',
      [query('max by (query) (supervisor_spark_streaming_last_progress_age_seconds)', { legend: '{{query}}' })],
    ),
  );

  // ---------------------------------------------------------------- Pipelines
  b.withRow(row('Pipelines'));
  b.withPanel(
    finish(
      new statetimeline.PanelBuilder().title('Pipeline runs').mappings(RUN_OUTCOME_MAPPINGS).showValue(common.VisibilityMode.Auto).mergeValues(false).insertNulls(false),
      id(),
      { w: 16, h: 7 },
      'Worst outcome of the runs that ended in each interval, per pipeline (empty = no run ended).',
      [query(runOutcomeExpr(), { legend: '{{pipeline}}' })],
    ),
  );
  b.withPanel(
    finish(
      new stat.PanelBuilder()
        .title('Since last success')
        .unit('s')
        .thresholds(thresholds([[null, 'green'], [7200, 'yellow'], [21600, 'red']]))
        .colorScheme(thresholdColors())
        .colorMode(common.BigValueColorMode.Background)
        .textMode(common.BigValueTextMode.ValueAndName)
        .graphMode(common.BigValueGraphMode.None)
        .reduceOptions(lastValue()),
      id(),
      { w: 8, h: 7 },
      'Time since the last successful run of each pipeline.',
      [query(`time() - max by (pipeline) (supervisor_pipeline_last_success_timestamp_seconds{${pipeline}})`, { legend: '{{pipeline}}', instant: true })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder()
        .title('Runs by state')
        .drawStyle(common.GraphDrawStyle.Bars)
        .fillOpacity(80)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .legend(tableLegend(['sum']))
        .overrideByRegexp('.*success$', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'green' } }])
        .overrideByRegexp('.*(failed|timed_out)$', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }]),
      id(),
      { w: 12, h: 7 },
      'Runs that reached a final state, per pipeline and state.',
      [query(`sum by (pipeline, state) (increase(supervisor_pipeline_runs_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}} {{state}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Active runs').min(0).legend(tableLegend(['lastNotNull', 'max'])),
      id(),
      { w: 12, h: 7 },
      'Runs queued or running.',
      [query(`sum by (pipeline, state) (supervisor_pipeline_active_runs{${pipeline}})`, { legend: '{{pipeline}} {{state}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Run duration').unit('s').legend(tableLegend(['lastNotNull', 'max'])),
      id(),
      { w: 8, h: 7 },
      'p50 and p95 of run durations (supervisor_pipeline_run_duration_seconds).',
      [
        query(`histogram_quantile(0.5, sum by (pipeline, le) (rate(supervisor_pipeline_run_duration_seconds_bucket{${pipeline}}[$__rate_interval])))`, { legend: '{{pipeline}} p50' }),
        query(`histogram_quantile(0.95, sum by (pipeline, le) (rate(supervisor_pipeline_run_duration_seconds_bucket{${pipeline}}[$__rate_interval])))`, { legend: '{{pipeline}} p95' }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Task duration p95').unit('s').legend(tableLegend(['lastNotNull', 'max'])),
      id(),
      { w: 8, h: 7 },
      'p95 of task attempt durations per task.',
      [query(`histogram_quantile(0.95, sum by (pipeline, task, le) (rate(supervisor_pipeline_task_duration_seconds_bucket{${pipeline}}[$__rate_interval])))`, { legend: '{{pipeline}}.{{task}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Schedule delay').unit('s').legend(tableLegend(['lastNotNull', 'max'])),
      id(),
      { w: 8, h: 7 },
      'Cron boundary to the first task running (p95) — how late scheduled runs start.',
      [query(`histogram_quantile(0.95, sum by (pipeline, le) (rate(supervisor_pipeline_schedule_delay_seconds_bucket{${pipeline}}[$__rate_interval])))`, { legend: '{{pipeline}} p95' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder()
        .title('Task attempts by state')
        .drawStyle(common.GraphDrawStyle.Bars)
        .fillOpacity(80)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .legend(tableLegend(['sum'])),
      id(),
      { w: 12, h: 7 },
      'Task attempts that ended, per task and state (retries show as failed then success).',
      [query(`sum by (pipeline, task, state) (increase(supervisor_pipeline_task_runs_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}}.{{task}} {{state}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Skipped schedule ticks').drawStyle(common.GraphDrawStyle.Bars).fillOpacity(80).legend(tableLegend(['sum'])),
      id(),
      { w: 12, h: 7 },
      'Ticks not run because of the overlap policy, a clock jump or a gate.',
      [query(`sum by (pipeline, reason) (increase(supervisor_pipeline_skipped_ticks_total{${pipeline}}[$__rate_interval]))`, { legend: '{{pipeline}} {{reason}}' })],
    ),
  );

  // ---------------------------------------------------------------- Alerts
  b.withRow(row('Alerts'));
  b.withPanel(
    finish(
      new statetimeline.PanelBuilder()
        .title('Firing alerts')
        .mappings(valueMappings([[0, 'ok', 'green']]))
        .thresholds(thresholds([[null, 'green'], [1, 'red']]))
        .colorScheme(thresholdColors())
        .mergeValues(true),
      id(),
      { w: 12, h: 8 },
      'Alert instances firing per in-process rule (silenced and inhibited included).',
      [query('sum by (rule, severity) (supervisor_alerts_firing)', { legend: '{{rule}} ({{severity}})' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Notifications').drawStyle(common.GraphDrawStyle.Bars).fillOpacity(80).stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).legend(tableLegend(['sum'])),
      id(),
      { w: 8, h: 8 },
      'Delivery attempts per sink and result (delivered, retry, dead).',
      [query('sum by (sink, result) (increase(supervisor_alert_notifications_total[$__rate_interval]))', { legend: '{{sink}} {{result}}' })],
    ),
  );
  b.withPanel(
    finish(
      new stat.PanelBuilder()
        .title('Outbox pending')
        .thresholds(thresholds([[null, 'green'], [10, 'yellow'], [100, 'red']]))
        .colorScheme(thresholdColors())
        .graphMode(common.BigValueGraphMode.Area)
        .reduceOptions(lastValue()),
      id(),
      { w: 4, h: 8 },
      'Notifications waiting in the durable outbox.',
      [query('sum(supervisor_alert_outbox_pending)', { legend: 'pending' })],
    ),
  );

  // ---------------------------------------------------------------- Process
  b.withRow(row('Supervisor process'));
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Memory').unit('bytes').legend(tableLegend(['lastNotNull', 'max'])),
      id(),
      { w: 8, h: 7 },
      'Resident set size and V8 heap used.',
      [
        query(`process_resident_memory_bytes ${SUPERVISOR_ONLY}`, { legend: 'rss {{instance}}' }),
        query(`nodejs_heap_size_used_bytes ${SUPERVISOR_ONLY}`, { legend: 'heap used {{instance}}' }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('CPU').unit('percentunit').min(0).legend(tableLegend(['mean', 'max'])),
      id(),
      { w: 8, h: 7 },
      'CPU time per second of wall time (1 = one core).',
      [query(`rate(process_cpu_seconds_total[$__rate_interval]) ${SUPERVISOR_ONLY}`, { legend: '{{instance}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Event loop lag').unit('s').min(0).legend(tableLegend(['mean', 'max'])),
      id(),
      { w: 8, h: 7 },
      'Node.js event loop delay (p50, p99); sustained lag delays checks and timers.',
      [
        query(`nodejs_eventloop_lag_p50_seconds ${SUPERVISOR_ONLY}`, { legend: 'p50 {{instance}}' }),
        query(`nodejs_eventloop_lag_p99_seconds ${SUPERVISOR_ONLY}`, { legend: 'p99 {{instance}}' }),
      ],
    ),
  );

  return b.build() as unknown as Record<string, unknown>;
}

export function kafkaLagDashboard(): Record<string, unknown> {
  const id = createPanelIds();
  const sel = 'group=~"$group",topic=~"$topic"';
  const b = new dashboard.DashboardBuilder('Pipeline Supervisor — Kafka consumer lag')
    .uid(KAFKA_LAG_UID)
    .description('Per group, topic and partition: committed offsets, end offsets, lag in messages and seconds.')
    .tags(TAGS)
    .editable()
    .timezone('browser')
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(new dashboard.DashboardLinkBuilder('Pipeline Supervisor').type(dashboard.DashboardLinkType.Dashboards).tags(TAGS).asDropdown(false).includeVars(true).keepTime(true))
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('group', 'group', 'supervisor_kafka_consumer_group_status', 'Consumer group'))
    .withVariable(labelVariable('topic', 'topic', 'supervisor_kafka_partition_end_offset', 'Topic'));

  b.withRow(new dashboard.RowBuilder('Groups').id(id()));
  b.withPanel(
    finish(
      new statetimeline.PanelBuilder().title('Group status').mappings(LAG_STATUS_MAPPINGS).colorScheme(thresholdColors()).thresholds(thresholds([[null, 'green'], [1, 'yellow'], [2, 'red']])).mergeValues(true),
      id(),
      { w: 24, h: 5 },
      'Burrow status per group: OK, WARN, STALL, STOP, REWIND, ERR, NOTFOUND.',
      [query('max by (group) (supervisor_kafka_consumer_group_status{group=~"$group"})', { legend: '{{group}}' })],
    ),
  );
  b.withPanel(
    finish(
      new table.PanelBuilder()
        .title('Current lag per partition')
        .unit('short')
        .sortBy([new common.TableSortByFieldStateBuilder().displayName('lag').desc(true)])
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'lag' } } }),
      id(),
      { w: 24, h: 8 },
      'Latest lag of each group on each partition, largest first.',
      [query(`max by (group, topic, partition) (supervisor_kafka_consumer_lag_messages{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}}', instant: true }).format(prometheus.PromQueryFormat.Table)],
    ),
  );

  b.withRow(new dashboard.RowBuilder('Partitions').id(id()));
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Lag per partition (messages)').unit('short').min(0).legend(tableLegend()),
      id(),
      { w: 12, h: 8 },
      'supervisor_kafka_consumer_lag_messages.',
      [query(`max by (group, topic, partition) (supervisor_kafka_consumer_lag_messages{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Lag per partition (seconds)').unit('s').min(0).legend(tableLegend()),
      id(),
      { w: 12, h: 8 },
      'Estimated time lag, interpolated from the end-offset history.',
      [query(`max by (group, topic, partition) (supervisor_kafka_consumer_lag_seconds{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}}' })],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Produce and consume rates').unit('short').min(0).legend(tableLegend(['mean', 'lastNotNull'])),
      id(),
      { w: 12, h: 8 },
      'Messages per second appended to each topic (end offset) and committed by each group.',
      [
        query('sum by (topic) (rate(supervisor_kafka_partition_end_offset{topic=~"$topic"}[$__rate_interval]))', { legend: '{{topic}} produced' }),
        query(`sum by (group, topic) (rate(supervisor_kafka_consumer_committed_offset{${sel}}[$__rate_interval]))`, { legend: '{{group}} {{topic}} consumed' }),
      ],
    ),
  );
  b.withPanel(
    finish(
      new timeseries.PanelBuilder().title('Offsets').unit('short').legend(tableLegend(['lastNotNull'])),
      id(),
      { w: 12, h: 8 },
      'End offset of each partition against the offset each group committed.',
      [
        query('max by (topic, partition) (supervisor_kafka_partition_end_offset{topic=~"$topic"})', { legend: '{{topic}}/{{partition}} end' }),
        query(`max by (group, topic, partition) (supervisor_kafka_consumer_committed_offset{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}} committed' }),
      ],
    ),
  );
  return b.build() as unknown as Record<string, unknown>;
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
