/** Overview row "Data freshness": age of the newest data-changing commit of each Delta layer against its threshold. */
import { barGaugePanel, query, statPanel, timeseriesPanel, type Section } from '../panels';

export function freshnessSection(): Section {
  return {
    title: 'Data freshness (Delta bronze / silver / gold)',
    panels: [
      barGaugePanel({
        title: 'Freshness against threshold',
        description: 'Age of the newest data-changing commit divided by the layer threshold (100% = stale).',
        size: { w: 8, h: 8 },
        targets: [
          query('max by (check, table) (supervisor_delta_freshness_seconds) / on (check, table) max by (check, table) (supervisor_delta_freshness_threshold_seconds)', {
            legend: '{{check}}',
            instant: true,
          }),
        ],
        unit: 'percentunit',
        min: 0,
        max: 1.5,
        thresholds: [
          [null, 'green'],
          [0.8, 'yellow'],
          [1, 'red'],
        ],
      }),
      timeseriesPanel({
        title: 'Freshness per layer',
        description: 'supervisor_delta_freshness_seconds per table with its threshold (dashed).',
        size: { w: 10, h: 8 },
        targets: [
          query('max by (check) (supervisor_delta_freshness_seconds)', { legend: '{{check}}' }),
          query('max by (check) (supervisor_delta_freshness_threshold_seconds)', { legend: '{{check}} threshold' }),
        ],
        unit: 's',
        legendCalcs: ['lastNotNull', 'max'],
        overrides: [
          {
            byRegexp: '.*threshold$',
            properties: [
              { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
              { id: 'custom.lineWidth', value: 2 },
            ],
          },
        ],
      }),
      statPanel({
        title: 'Delta table version',
        description: 'Newest version of each table log.',
        size: { w: 6, h: 8 },
        targets: [query('max by (check) (supervisor_delta_table_version)', { legend: '{{check}}' })],
        colorMode: 'none',
        graphMode: 'area',
        textMode: 'value_and_name',
      }),
    ],
  };
}
