import { z } from 'zod';
import { durationMs } from './duration';
import { alertsConfigSchema } from '../../alerts/config';
import { resolveCheck } from '../wiring/check-options';
import { pipelinesSchema } from './pipelines';

/**
 * The configuration file's schema, one section per concern. Every object is strict (unknown
 * keys are errors, so a typo never silently falls back to a default); every field has a
 * default where one is safe. YAML keys are snake_case throughout.
 */

const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8090),
  /** Base URL used in alert links. */
  public_url: z.string().url().optional(),
  /** Failed bearer-token attempts allowed per client IP per minute before 429s. */
  auth_failures_per_minute: z.number().int().min(1).default(10),
});

const storeSchema = z.strictObject({
  /** SQLite file, relative to the config file's folder. */
  path: z.string().default('../var/supervisor.db'),
});

const loggingSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** pretty = human lines (default on a TTY), json = one object per line. */
  format: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

const brokersSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1, 'at least one broker host:port'));

const connectionsSchema = z.strictObject({
  kafka: z
    .strictObject({
      brokers: brokersSchema.default(['127.0.0.1:9092']),
      client_id: z.string().default('pipeline-supervisor'),
      ssl: z.boolean().default(false),
      sasl: z
        .strictObject({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']), username: z.string(), password: z.string() })
        .optional(),
      connection_timeout: durationMs.default(3_000),
      request_timeout: durationMs.default(10_000),
    })
    .prefault({}),
  schema_registry: z
    .strictObject({
      url: z.string().url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
      username: z.string().optional(),
      password: z.string().optional(),
    })
    .prefault({}),
  s3: z
    .strictObject({
      endpoint: z.string().url().optional(),
      region: z.string().default('us-east-1'),
      access_key_id: z.string().optional(),
      secret_access_key: z.string().optional(),
      force_path_style: z.boolean().default(true),
    })
    .prefault({}),
  spark: z
    .strictObject({
      /** The standalone master's web UI (serves /json/). */
      master_ui: z.string().url().default('http://127.0.0.1:8080'),
    })
    .prefault({}),
});

export const CHECK_KINDS = ['kafka_cluster', 'consumer_lag', 'schema_registry', 'delta_freshness', 'spark'] as const;

/** Common fields of every check; the kind-specific options are validated by the check module. */
export const checkCommonSchema = z.object({
  kind: z.enum(CHECK_KINDS),
  enabled: z.boolean().default(true),
  interval: durationMs.optional(),
  timeout: durationMs.optional(),
});

const checksSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'check names are letters, digits, _ and -'), checkCommonSchema.loose()).default({});

const rootSchema = z.strictObject({
  server: serverSchema.prefault({}),
  store: storeSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  variables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  connections: connectionsSchema.prefault({}),
  checks: checksSchema,
  pipelines: pipelinesSchema,
  alerts: alertsConfigSchema.prefault({}),
});

/** The root schema, plus each check's own options validated by its module (with YAML paths). */
export const configSchema = rootSchema.superRefine((config, ctx) => {
  for (const [name, check] of Object.entries(config.checks)) {
    for (const issue of resolveCheck(name, check, config.connections).issues) {
      const path = ['checks', name, ...issue.path];
      if (issue.keys) ctx.addIssue({ code: 'unrecognized_keys', keys: issue.keys, path, message: issue.message });
      else ctx.addIssue({ code: 'custom', path, message: issue.message });
    }
  }
});

export type SupervisorConfig = z.infer<typeof rootSchema>;
export type ConnectionsConfig = SupervisorConfig['connections'];
export type CheckConfig = SupervisorConfig['checks'][string];
