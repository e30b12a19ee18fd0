import type { z } from 'zod';
import { consumerLagOptionsSchema } from '../../checks/consumer-lag';
import { deltaFreshnessOptionsSchema } from '../../checks/delta-freshness';
import { kafkaClusterOptionsSchema } from '../../checks/kafka-cluster';
import { schemaRegistryOptionsSchema } from '../../checks/schema-registry';
import { sparkOptionsSchema } from '../../checks/spark';
import { camelizeKeys, camelToSnake, snakePath } from '../config/case';
import { readDuration } from '../config/duration';
import type { CheckConfig, ConnectionsConfig } from '../config/schema';
import type { CheckKind } from '../protocol';

/** Each check kind's option schema (owned by its module) and default schedule. */
export const CHECK_MODULES = {
  kafka_cluster: { schema: kafkaClusterOptionsSchema, intervalMs: 15_000, timeoutMs: 10_000 },
  consumer_lag: { schema: consumerLagOptionsSchema, intervalMs: 15_000, timeoutMs: 10_000 },
  delta_freshness: { schema: deltaFreshnessOptionsSchema, intervalMs: 60_000, timeoutMs: 20_000 },
  spark: { schema: sparkOptionsSchema, intervalMs: 15_000, timeoutMs: 10_000 },
  schema_registry: { schema: schemaRegistryOptionsSchema, intervalMs: 30_000, timeoutMs: 10_000 },
} satisfies Record<CheckKind, { schema: z.ZodType; intervalMs: number; timeoutMs: number }>;

const COMMON_KEYS = new Set(['kind', 'enabled', 'interval', 'timeout']);

/** Option fields the modules take in seconds; the YAML may write them as durations ("30m"). */
const SECONDS_FIELDS: Partial<Record<CheckKind, string[][]>> = {
  delta_freshness: [['maxAge'], ['warnAge']],
  spark: [['requestTimeout'], ['streaming', 'maxProgressAge']],
};

/** The connection settings a check of this kind inherits unless it sets its own. */
function connectionDefaults(kind: CheckKind, c: ConnectionsConfig): Record<string, unknown> {
  switch (kind) {
    case 'kafka_cluster':
    case 'consumer_lag':
      return {
        brokers: c.kafka.brokers,
        clientId: c.kafka.client_id,
        ...(c.kafka.ssl ? { ssl: true } : {}),
        ...(c.kafka.sasl ? { sasl: c.kafka.sasl } : {}),
        // already milliseconds; written with their unit so the check's duration parser reads them as such
        connectionTimeout: `${c.kafka.connection_timeout}ms`,
        requestTimeout: `${c.kafka.request_timeout}ms`,
      };
    case 'delta_freshness':
      return {
        s3: {
          ...(c.s3.endpoint ? { endpoint: c.s3.endpoint } : {}),
          region: c.s3.region,
          ...(c.s3.access_key_id ? { accessKeyId: c.s3.access_key_id } : {}),
          ...(c.s3.secret_access_key ? { secretAccessKey: c.s3.secret_access_key } : {}),
          forcePathStyle: c.s3.force_path_style,
        },
      };
    case 'spark':
      return { masterUrl: c.spark.master_ui };
    case 'schema_registry':
      return { url: c.schema_registry.url, ...(c.schema_registry.username ? { auth: { username: c.schema_registry.username, password: c.schema_registry.password ?? '' } } : {}) };
  }
}

export interface ResolvedCheck {
  name: string;
  kind: CheckKind;
  enabled: boolean;
  intervalMs: number;
  timeoutMs: number;
  /** Parsed module options (camelCase). */
  options: unknown;
}

export interface CheckIssue {
  /** Path under `checks.<name>` in YAML (snake_case) terms. */
  path: PropertyKey[];
  message: string;
  /** Unknown keys, when the issue is about them. */
  keys?: string[];
}

/**
 * Builds a check's module options from its YAML section: snake_case → camelCase, duration
 * strings → seconds where the module wants seconds, connection defaults merged under the
 * check's own settings, then the module's schema. Issues come back with YAML paths.
 */
export function resolveCheck(name: string, check: CheckConfig, connections: ConnectionsConfig): { check?: ResolvedCheck; issues: CheckIssue[] } {
  const module = CHECK_MODULES[check.kind];
  const own = Object.fromEntries(Object.entries(check).filter(([k]) => !COMMON_KEYS.has(k)));
  const options = camelizeKeys(own) as Record<string, unknown>;
  const issues: CheckIssue[] = [];
  for (const field of SECONDS_FIELDS[check.kind] ?? []) {
    const parent = field.slice(0, -1).reduce<Record<string, unknown> | undefined>((o, k) => (o?.[k] as Record<string, unknown> | undefined), options);
    const leaf = field[field.length - 1]!;
    const value = parent?.[leaf];
    if (value === undefined) continue;
    // the one duration parser: "30m" or a bare number of seconds, bounded; the module takes seconds
    const read = readDuration(value);
    if (!read.ok) issues.push({ path: snakePath(field), message: read.message });
    else parent![leaf] = read.ms / 1000;
  }
  const defaults = connectionDefaults(check.kind, connections);
  const merged: Record<string, unknown> = { ...defaults, ...options };
  for (const [k, v] of Object.entries(defaults)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && options[k] && typeof options[k] === 'object') merged[k] = { ...v, ...options[k] };
  }
  const parsed = module.schema.safeParse(merged);
  if (!parsed.success) {
    const reported = new Set(issues.map((i) => i.path.join('.')));
    for (const issue of parsed.error.issues) {
      if (reported.has(snakePath(issue.path).join('.'))) continue; // already said: not a duration
      issues.push({
        path: snakePath(issue.path),
        message: issue.message,
        ...(issue.code === 'unrecognized_keys' ? { keys: issue.keys.map(camelToSnake) } : {}),
      });
    }
  }
  if (issues.length > 0) return { issues };
  return {
    check: {
      name,
      kind: check.kind,
      enabled: check.enabled,
      intervalMs: check.interval ?? module.intervalMs,
      timeoutMs: check.timeout ?? module.timeoutMs,
      options: parsed.data,
    },
    issues,
  };
}
