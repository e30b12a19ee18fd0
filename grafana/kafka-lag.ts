/** The Kafka consumer lag dashboard (uid `pipeline-supervisor-kafka-lag`): per group, topic and partition. */
import { LAG_STATUS_MAPPINGS, LAG_STATUS_THRESHOLDS } from './mappings';
import { buildDashboard, labelVariable, query, stateTimelinePanel, tablePanel, timeseriesPanel } from './panels';
import { prometheus } from './sdk';

export const KAFKA_LAG_UID = 'pipeline-supervisor-kafka-lag';

const sel = 'group=~"$group",topic=~"$topic"';

export function kafkaLagDashboard(tags: string[]): Record<string, unknown> {
  return buildDashboard({
    uid: KAFKA_LAG_UID,
    title: 'Pipeline Supervisor — Kafka consumer lag',
    description: 'Per group, topic and partition: committed offsets, end offsets, lag in messages and seconds.',
    tags,
    from: 'now-3h',
    variables: [
      labelVariable('group', 'group', 'supervisor_kafka_consumer_group_status', 'Consumer group'),
      labelVariable('topic', 'topic', 'supervisor_kafka_partition_end_offset', 'Topic'),
    ],
    sections: [
      {
        title: 'Groups',
        panels: [
          stateTimelinePanel({
            title: 'Group status',
            description: 'Burrow status per group: OK, WARN, STALL, STOP, REWIND, ERR, NOTFOUND.',
            size: { w: 24, h: 5 },
            targets: [query('max by (group) (supervisor_kafka_consumer_group_status{group=~"$group"})', { legend: '{{group}}' })],
            mappings: LAG_STATUS_MAPPINGS,
            thresholds: LAG_STATUS_THRESHOLDS,
          }),
          tablePanel({
            title: 'Current lag per partition',
            description: 'Latest lag of each group on each partition, largest first.',
            size: { w: 24, h: 8 },
            targets: [
              query(`max by (group, topic, partition) (supervisor_kafka_consumer_lag_messages{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}}', instant: true }).format(
                prometheus.PromQueryFormat.Table,
              ),
            ],
            unit: 'short',
            sortDescBy: 'lag',
            transformations: [{ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'lag' } } }],
          }),
        ],
      },
      {
        title: 'Partitions',
        panels: [
          timeseriesPanel({
            title: 'Lag per partition (messages)',
            description: 'supervisor_kafka_consumer_lag_messages.',
            size: { w: 12, h: 8 },
            targets: [query(`max by (group, topic, partition) (supervisor_kafka_consumer_lag_messages{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}}' })],
            unit: 'short',
            min: 0,
          }),
          timeseriesPanel({
            title: 'Lag per partition (seconds)',
            description: 'Estimated time lag, interpolated from the end-offset history.',
            size: { w: 12, h: 8 },
            targets: [query(`max by (group, topic, partition) (supervisor_kafka_consumer_lag_seconds{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}}' })],
            unit: 's',
            min: 0,
          }),
          timeseriesPanel({
            title: 'Produce and consume rates',
            description: 'Messages per second appended to each topic (end offset) and committed by each group.',
            size: { w: 12, h: 8 },
            targets: [
              query('sum by (topic) (rate(supervisor_kafka_partition_end_offset{topic=~"$topic"}[$__rate_interval]))', { legend: '{{topic}} produced' }),
              query(`sum by (group, topic) (rate(supervisor_kafka_consumer_committed_offset{${sel}}[$__rate_interval]))`, { legend: '{{group}} {{topic}} consumed' }),
            ],
            unit: 'short',
            min: 0,
            legendCalcs: ['mean', 'lastNotNull'],
          }),
          timeseriesPanel({
            title: 'Offsets',
            description: 'End offset of each partition against the offset each group committed.',
            size: { w: 12, h: 8 },
            targets: [
              query('max by (topic, partition) (supervisor_kafka_partition_end_offset{topic=~"$topic"})', { legend: '{{topic}}/{{partition}} end' }),
              query(`max by (group, topic, partition) (supervisor_kafka_consumer_committed_offset{${sel}})`, { legend: '{{group}} {{topic}}/{{partition}} committed' }),
            ],
            unit: 'short',
            legendCalcs: ['lastNotNull'],
          }),
        ],
      },
    ],
  });
}
