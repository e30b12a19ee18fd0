/** Overview row "Spark": master and workers, the streaming applications, Structured Streaming rates and progress age. */
import { query, stateTimelinePanel, statPanel, timeseriesPanel, valueMappings, type Section } from '../panels';

export function sparkSection(): Section {
  return {
    title: 'Spark',
    panels: [
      statPanel({
        title: 'Master and workers',
        description: 'Master status ALIVE, alive workers against the expected count.',
        size: { w: 6, h: 6 },
        targets: [
          query('min(supervisor_spark_master_alive)', { legend: 'master' }),
          query('sum(supervisor_spark_workers_alive)', { legend: 'workers' }),
          query('sum(supervisor_spark_workers_expected)', { legend: 'expected' }),
        ],
        colorMode: 'background',
        textMode: 'value_and_name',
        graphMode: 'none',
        thresholds: [
          [null, 'red'],
          [1, 'green'],
        ],
        overrides: [
          {
            byName: 'master',
            properties: [
              {
                id: 'mappings',
                value: valueMappings([
                  [0, 'DOWN', 'red'],
                  [1, 'ALIVE', 'green'],
                ]),
              },
            ],
          },
          { byName: 'expected', properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }] },
        ],
      }),
      stateTimelinePanel({
        title: 'Streaming applications',
        description: 'Expected applications RUNNING on the master.',
        size: { w: 8, h: 6 },
        targets: [query('max by (app) (supervisor_spark_app_up)', { legend: '{{app}}' })],
        mappings: valueMappings([
          [0, 'NOT RUNNING', 'red'],
          [1, 'RUNNING', 'green'],
        ]),
      }),
      timeseriesPanel({
        title: 'Application uptime',
        description: 'How long each application has been running (restarts show as drops).',
        size: { w: 10, h: 6 },
        targets: [query('max by (app) (supervisor_spark_app_duration_seconds)', { legend: '{{app}}' })],
        unit: 's',
        legendCalcs: ['lastNotNull'],
      }),
      timeseriesPanel({
        title: 'Streaming rows per second',
        description: 'Input rate against processing rate of each Structured Streaming query; processed below input means the query falls behind.',
        size: { w: 14, h: 7 },
        targets: [
          query('max by (query) (supervisor_spark_streaming_input_rows_per_second)', { legend: '{{query}} input' }),
          query('max by (query) (supervisor_spark_streaming_processed_rows_per_second)', { legend: '{{query}} processed' }),
        ],
        unit: 'rowsps',
        min: 0,
        legendCalcs: ['mean', 'lastNotNull'],
      }),
      timeseriesPanel({
        title: 'Last progress age',
        description: 'Seconds since each streaming query last reported progress.',
        size: { w: 10, h: 7 },
        targets: [query('max by (query) (supervisor_spark_streaming_last_progress_age_seconds)', { legend: '{{query}}' })],
        unit: 's',
        min: 0,
        legendCalcs: ['lastNotNull', 'max'],
      }),
    ],
  };
}
