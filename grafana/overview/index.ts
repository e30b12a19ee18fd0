/**
 * The overview dashboard (uid `pipeline-supervisor`): one module per row, in the order shown.
 */
import { buildDashboard, labelVariable } from '../panels';
import { alertsSection } from './alerts';
import { freshnessSection } from './freshness';
import { healthSection } from './health';
import { kafkaSection } from './kafka';
import { pipelinesSection } from './pipelines';
import { processSection } from './process';
import { sparkSection } from './spark';

export const OVERVIEW_UID = 'pipeline-supervisor';

export function overviewDashboard(tags: string[]): Record<string, unknown> {
  return buildDashboard({
    uid: OVERVIEW_UID,
    title: 'Pipeline Supervisor — overview',
    description: 'Kafka → Spark Structured Streaming → Delta Lake pipeline as seen by the supervisor: checks, freshness, lag, Spark, pipeline runs, alerts.',
    tags,
    from: 'now-6h',
    variables: [
      labelVariable('check', 'check', 'supervisor_check_status', 'Check'),
      labelVariable('group', 'group', 'supervisor_kafka_consumer_group_status', 'Consumer group'),
      labelVariable('pipeline', 'pipeline', 'supervisor_pipeline_active_runs', 'Pipeline'),
    ],
    sections: [healthSection(), freshnessSection(), kafkaSection(), sparkSection(), pipelinesSection(), alertsSection(), processSection()],
  });
}
