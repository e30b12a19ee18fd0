import { createConsumerLagCheck } from '../../checks/consumer-lag';
import { createDeltaFreshnessCheck } from '../../checks/delta-freshness';
import { createKafkaClusterCheck } from '../../checks/kafka-cluster';
import { createCommitStore, type CommitStore } from '../../checks/lag-commit-store';
import { createSchemaRegistryCheck } from '../../checks/schema-registry';
import { createSparkCheck } from '../../checks/spark';
import type { SupervisorConfig } from '../config/schema';
import type { CheckProbe, Clock, Logger } from '../protocol';
import { resolveCheck, type ResolvedCheck } from './check-options';

export interface CreateCheckProbesParams {
  config: SupervisorConfig;
  logger: Logger;
  clock: Clock;
  /** Commits from the `__consumer_offsets` stream, shared by every lag check. */
  commitStore?: CommitStore;
  /** Only these check names (CLI `checks run NAME`). */
  only?: readonly string[];
}

/** The enabled checks of the config, resolved (options already validated at load). */
export function resolvedChecks(config: SupervisorConfig): ResolvedCheck[] {
  const out: ResolvedCheck[] = [];
  for (const [name, check] of Object.entries(config.checks)) {
    const { check: resolved } = resolveCheck(name, check, config.connections);
    if (resolved) out.push(resolved);
  }
  return out;
}

/** Builds one probe per enabled check. Connects to nothing until a probe runs. */
export function createCheckProbes({ config, logger, clock, commitStore, only }: CreateCheckProbesParams): CheckProbe[] {
  const probes: CheckProbe[] = [];
  for (const check of resolvedChecks(config)) {
    if (!check.enabled || (only && !only.includes(check.name))) continue;
    const common = { name: check.name, logger, intervalMs: check.intervalMs, timeoutMs: check.timeoutMs };
    switch (check.kind) {
      case 'kafka_cluster':
        probes.push(createKafkaClusterCheck({ ...common, clock, options: check.options as never }));
        break;
      case 'consumer_lag':
        probes.push(createConsumerLagCheck({ ...common, options: check.options as never, ...(commitStore ? { commitSource: commitStore } : {}) }));
        break;
      case 'delta_freshness':
        probes.push(createDeltaFreshnessCheck({ ...common, clock, options: check.options as never }));
        break;
      case 'spark':
        probes.push(createSparkCheck({ ...common, clock, options: check.options as never }));
        break;
      case 'schema_registry':
        probes.push(createSchemaRegistryCheck({ ...common, options: check.options as never }));
        break;
    }
  }
  return probes;
}

/** True when a consumer_lag check wants commits from the `__consumer_offsets` topic. */
export function needsOffsetsStream(config: SupervisorConfig): boolean {
  return resolvedChecks(config).some((c) => c.enabled && c.kind === 'consumer_lag' && (c.options as { offsetSource: string }).offsetSource !== 'admin');
}

export { createCommitStore };
