import { findRepoRoot } from '../paths';
import type { LatestSignalsFn, NotifyFn, OperatorRegistry } from '../operator';
import { createAlertOperator } from './alert';
import { createCollectMetricsOperator } from './collect-metrics';
import { createCommandOperator } from './command';
import { createIngestionOperator } from './ingestion';
import { createNotifyOperator } from './notify';

export { createSignalOperator, type SignalTask } from './check-task';
export { createIngestionOperator, planIngestion, readSourceNames, DEFAULT_INGESTION_IMAGE } from './ingestion';
export { createCommandOperator } from './command';
export { createNotifyOperator } from './notify';
export { createAlertOperator } from './alert';
export { createCollectMetricsOperator } from './collect-metrics';
export { TaskProcessError } from './process-task';

/** The repository root (where node_modules and stack/ live). */
export const REPO_ROOT = findRepoRoot();

export interface BuiltinOperatorsParams {
  notify?: NotifyFn;
  latestSignals?: LatestSignalsFn;
  repoRoot?: string;
  killGraceMs?: number;
  /** connections.kafka as KAFKA_* variables (kafkaEnvFor), handed to every ingestion task. */
  kafkaEnv?: Readonly<Record<string, string>>;
}

/**
 * The operators the engine implements itself: ingestion, command, notify, collect_metrics,
 * alert. The check operators (kafka_health, data_freshness, spark_job, schema_registry) are
 * added by the composition root with createSignalOperator.
 */
export function createBuiltinOperators(params: BuiltinOperatorsParams = {}): OperatorRegistry {
  const repoRoot = params.repoRoot ?? REPO_ROOT;
  const grace = params.killGraceMs === undefined ? {} : { killGraceMs: params.killGraceMs };
  return {
    ingestion: createIngestionOperator({ repoRoot, ...grace, ...(params.kafkaEnv ? { kafkaEnv: params.kafkaEnv } : {}) }),
    command: createCommandOperator(grace),
    notify: createNotifyOperator(params.notify),
    collect_metrics: createCollectMetricsOperator(params.latestSignals),
    alert: createAlertOperator(params.notify),
  };
}
