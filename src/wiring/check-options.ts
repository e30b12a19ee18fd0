import type { z } from 'zod';
import { consumerLagOptionsSchema } from '../../checks/consumer-lag';
import { deltaFreshnessOptionsSchema } from '../../checks/delta-freshness';
import { kafkaClusterOptionsSchema } from '../../checks/kafka-cluster';
import { schemaRegistryOptionsSchema } from '../../checks/schema-registry';
import { sparkOptionsSchema } from '../../checks/spark';
import { camelizeKeys, camelToSnake, snakePath } from '../config/case';
import { readDuration } from '../config/duration';
import type { CheckConfig, ConnectionsConfig } from '../config/schema';
import type { ConfiguredCheckKind as CheckKind } from '../protocol';
import type { SchemaRegistryConnection } from '../shared/schema-registry-decoder';
import { resolveSecret } from '../shared/secrets';
import { hasTlsSettings, pickTlsSettings, type TlsSettings } from '../shared/tls';
import type { KafkaConnectionSettings, KafkaSaslSettings } from '../shared/kafka-connection';

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
        ...kafkaConnectionSettings(c),
        // already milliseconds; written with their unit so the check's duration parser reads them as such
        connectionTimeout: `${c.kafka.connection_timeout}ms`,
        requestTimeout: `${c.kafka.request_timeout}ms`,
      };
    case 'delta_freshness':
      return { s3: s3ConnectionOptions(c) };
    case 'spark':
      return { masterUrl: c.spark.master_ui, ...sparkConnectionOptions(c) };
    case 'schema_registry':
      return schemaRegistryCheckDefaults(c);
  }
}

/** `connections.schema_registry` as schema_registry check options (url, auth or token, headers, TLS). */
export function schemaRegistryCheckDefaults(c: ConnectionsConfig): Record<string, unknown> {
  const r = schemaRegistryConnection(c);
  return { url: r.url, ...(r.auth ? { auth: r.auth } : {}), ...(r.token !== undefined ? { token: r.token } : {}), ...(r.headers ? { headers: { ...r.headers } } : {}), ...r.tls };
}

/**
 * `connections.kafka` as the one Kafka connection definition (src/shared/kafka-connection.ts):
 * what the Kafka checks inherit, what the `__consumer_offsets` stream, the triggers and gates
 * connect with, and what `kafkaEnvFor` turns into the ingestion service's environment. Secrets
 * are already read (the loader resolved `*_file`); the file keys are dropped then.
 */
export function kafkaConnectionSettings(c: ConnectionsConfig): KafkaConnectionSettings & { clientId: string; connectionTimeout: number; requestTimeout: number } {
  const k = c.kafka;
  const ssl = typeof k.ssl === 'object' ? withoutResolvedFiles(tlsOptionsOf(k.ssl) as Record<string, unknown>, ['keyPassword']) : k.ssl;
  const sasl = k.sasl
    ? withoutResolvedFiles({ ...(camelizeKeys(k.sasl) as Record<string, unknown>), ...(k.sasl.extensions ? { extensions: { ...k.sasl.extensions } } : {}) }, [
        'password',
        'clientSecret',
      ])
    : undefined;
  return {
    brokers: [...k.brokers],
    clientId: k.client_id,
    ...(ssl ? { ssl: ssl } : {}),
    ...(sasl ? { sasl: sasl as unknown as KafkaSaslSettings } : {}),
    connectionTimeout: k.connection_timeout,
    requestTimeout: k.request_timeout,
  };
}

/** Drops `<key>File` where `<key>` holds the secret read from it. */
function withoutResolvedFiles(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out = { ...o };
  for (const k of keys) if (out[k] !== undefined) delete out[`${k}File`];
  return out;
}

/** The TLS keys of a connection section, as camelCase options (only those set). */
function tlsOptionsOf(section: Readonly<Record<string, unknown>>): TlsSettings {
  return pickTlsSettings(camelizeKeys(section) as Record<string, unknown>);
}

/** `connections.spark` as spark check options: basic auth, headers, TLS (the master URL aside). */
export function sparkConnectionOptions(c: ConnectionsConfig): { auth?: { username: string; password: string }; headers?: Record<string, string> } & TlsSettings {
  return {
    ...(c.spark.username !== undefined ? { auth: { username: c.spark.username, password: c.spark.password ?? '' } } : {}),
    ...(Object.keys(c.spark.headers).length > 0 ? { headers: { ...c.spark.headers } } : {}),
    ...tlsOptionsOf(c.spark),
  };
}

/**
 * `connections.s3` as S3 client options: keys only when given (no keys = the SDK's default
 * credential chain), TLS files, path style.
 */
export function s3ConnectionOptions(c: ConnectionsConfig): Record<string, unknown> {
  return {
    ...(c.s3.endpoint ? { endpoint: c.s3.endpoint } : {}),
    region: c.s3.region,
    ...(c.s3.access_key_id ? { accessKeyId: c.s3.access_key_id } : {}),
    ...(c.s3.secret_access_key ? { secretAccessKey: c.s3.secret_access_key } : {}),
    ...(c.s3.session_token ? { sessionToken: c.s3.session_token } : {}),
    forcePathStyle: c.s3.force_path_style,
    ...tlsOptionsOf(c.s3),
  };
}

/**
 * `connections.schema_registry` as one connection (URL, basic auth or bearer token, headers,
 * TLS files): what the schema_registry check inherits and what the offsets trigger's decoder
 * takes (`lazySchemaRegistryDecoder(schemaRegistryConnection(config.connections))`).
 */
export function schemaRegistryConnection(c: ConnectionsConfig): SchemaRegistryConnection {
  const r = c.schema_registry;
  return {
    url: r.url,
    ...(r.username !== undefined ? { auth: { username: r.username, password: r.password ?? '' } } : {}),
    ...(r.token !== undefined ? { token: r.token } : {}),
    ...(Object.keys(r.headers).length > 0 ? { headers: { ...r.headers } } : {}),
    ...(hasTlsSettings(tlsOptionsOf(r)) ? { tls: tlsOptionsOf(r) } : {}),
    where: 'connections.schema_registry',
  };
}

/** Inherited settings a check replaces as a group: setting one drops the inherited others. */
const EXCLUSIVE_DEFAULTS: Partial<Record<CheckKind, string[][]>> = {
  schema_registry: [['auth', 'token']],
};

/** Secret keys a check may give as `<key>_file` (camelCase: `passwordFile`), at any depth. */
const SECRET_FILE_KEYS = new Set(['password', 'token', 'secretAccessKey', 'sessionToken']);

/** Replaces `<key>File` by `<key>` read from the file, in place; issues carry YAML paths. */
function resolveSecretFiles(value: unknown, path: string[], issues: CheckIssue[]): void {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return;
  const obj = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) {
    const base = k.endsWith('File') ? k.slice(0, -'File'.length) : null;
    if (base !== null && SECRET_FILE_KEYS.has(base) && typeof v === 'string') {
      const key = camelToSnake(base);
      try {
        const secret = resolveSecret({ key, fileKey: `${key}_file`, value: obj[base] as string | undefined, file: v });
        delete obj[k];
        if (secret !== undefined) obj[base] = secret;
      } catch (err) {
        delete obj[k]; // reported here, not again as an unknown key
        issues.push({ path: snakePath([...path, obj[base] !== undefined ? base : k]), message: (err instanceof Error ? err.message : String(err)).replace(`${key}_file: `, '') });
      }
    } else resolveSecretFiles(v, [...path, k], issues);
  }
}

/** Header names as written (the snake→camel conversion must not touch them). */
function restoreHeaders(options: Record<string, unknown>, own: Record<string, unknown>): void {
  if (own.headers && typeof own.headers === 'object') options.headers = own.headers;
  const driver = own.driver as Record<string, unknown> | undefined;
  if (driver?.headers && typeof driver.headers === 'object' && options.driver && typeof options.driver === 'object')
    (options.driver as Record<string, unknown>).headers = driver.headers;
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
  restoreHeaders(options, own);
  const issues: CheckIssue[] = [];
  resolveSecretFiles(options, [], issues);
  for (const field of SECONDS_FIELDS[check.kind] ?? []) {
    const parent = field.slice(0, -1).reduce<Record<string, unknown> | undefined>((o, k) => o?.[k] as Record<string, unknown> | undefined, options);
    const leaf = field[field.length - 1]!;
    const value = parent?.[leaf];
    if (value === undefined) continue;
    // the one duration parser: "30m" or a bare number of seconds, bounded; the module takes seconds
    const read = readDuration(value);
    if (!read.ok) issues.push({ path: snakePath(field), message: read.message });
    else parent![leaf] = read.ms / 1000;
  }
  const defaults = connectionDefaults(check.kind, connections);
  for (const group of EXCLUSIVE_DEFAULTS[check.kind] ?? []) {
    if (group.some((k) => options[k] !== undefined)) for (const k of group) delete defaults[k];
  }
  const merged: Record<string, unknown> = { ...defaults, ...options };
  // the registry check's record sampling is a Kafka client too: it inherits connections.kafka
  // (its own keys win; its own `sasl` replaces the inherited one whole)
  if (check.kind === 'schema_registry' && options.freshness && typeof options.freshness === 'object') {
    merged.freshness = { ...connectionDefaults('kafka_cluster', connections), ...options.freshness };
  }
  for (const [k, v] of Object.entries(defaults)) {
    // a check's own Kafka `sasl` replaces the inherited one whole (another mechanism has other keys)
    if (k === 'sasl') continue;
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
