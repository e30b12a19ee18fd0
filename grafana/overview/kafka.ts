/** Overview row "Kafka": brokers, partitions and topics, the schema registry, consumer group lag and status. */
import { LAG_STATUS_MAPPINGS, LAG_STATUS_THRESHOLDS } from '../mappings';
import { query, stateTimelinePanel, statPanel, timeseriesPanel, valueMappings, type Section } from '../panels';
import { group } from './selectors';

export function kafkaSection(): Section {
  return {
    title: 'Kafka',
    panels: [
      statPanel({
        title: 'Brokers',
        description: 'Brokers in the cluster metadata against the expected count.',
        size: { w: 4, h: 6 },
        targets: [query('sum(supervisor_kafka_brokers)', { legend: 'alive' }), query('sum(supervisor_kafka_brokers_expected)', { legend: 'expected' })],
        colorMode: 'none',
        textMode: 'value_and_name',
        graphMode: 'none',
      }),
      statPanel({
        title: 'Partitions and topics',
        description: 'Partitions without a leader, under-replicated partitions, required topics missing, controller absent.',
        size: { w: 6, h: 6 },
        targets: [
          query('sum(supervisor_kafka_partitions_offline)', { legend: 'offline' }),
          query('sum(supervisor_kafka_partitions_under_replicated)', { legend: 'under-replicated' }),
          query('sum(supervisor_kafka_topics_missing)', { legend: 'topics missing' }),
          query('count(supervisor_kafka_controller_present == 0) or vector(0)', { legend: 'no controller' }),
        ],
        thresholds: [
          [null, 'green'],
          [1, 'red'],
        ],
        colorMode: 'background',
        textMode: 'value_and_name',
        graphMode: 'none',
      }),
      statPanel({
        title: 'Schema registry',
        description: 'Registry reachable, and required subjects that do not exist.',
        size: { w: 4, h: 6 },
        targets: [query('min(supervisor_schema_registry_up)', { legend: 'registry' }), query('sum(supervisor_schema_registry_subject_missing)', { legend: 'subjects missing' })],
        thresholds: [
          [null, 'red'],
          [1, 'green'],
        ],
        colorMode: 'background',
        textMode: 'value_and_name',
        graphMode: 'none',
        mappings: valueMappings([
          [0, 'DOWN', 'red'],
          [1, 'UP', 'green'],
        ]),
        overrides: [
          {
            byName: 'subjects missing',
            properties: [
              { id: 'mappings', value: [] },
              {
                id: 'thresholds',
                value: {
                  mode: 'absolute',
                  steps: [
                    { value: null, color: 'green' },
                    { value: 1, color: 'red' },
                  ],
                },
              },
            ],
          },
        ],
      }),
      timeseriesPanel({
        title: 'Consumer group lag (messages)',
        description: 'Total lag per consumer group (groups that never committed are absent).',
        size: { w: 5, h: 6 },
        targets: [query(`sum by (group) (supervisor_kafka_consumer_group_lag_messages{${group}})`, { legend: '{{group}}' })],
        unit: 'short',
        min: 0,
      }),
      timeseriesPanel({
        title: 'Consumer group lag (seconds)',
        description: 'Largest estimated time lag per group, interpolated from end-offset history.',
        size: { w: 5, h: 6 },
        targets: [query(`max by (group) (supervisor_kafka_consumer_group_lag_seconds{${group}})`, { legend: '{{group}}' })],
        unit: 's',
        min: 0,
      }),
      stateTimelinePanel({
        title: 'Consumer group status',
        description: 'Burrow-style evaluation of each group over its sliding window.',
        size: { w: 24, h: 5 },
        targets: [query(`max by (group) (supervisor_kafka_consumer_group_status{${group}})`, { legend: '{{group}}' })],
        mappings: LAG_STATUS_MAPPINGS,
        thresholds: LAG_STATUS_THRESHOLDS,
      }),
    ],
  };
}
