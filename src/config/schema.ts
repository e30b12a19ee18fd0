import { z } from 'zod';
import { durationSchema, MAX_TIMER_MS, timerDurationMs } from './duration';
import { alertsConfigSchema } from '../../alerts/config';
import { resolveCheck } from '../wiring/check-options';
import { pipelinesSchema } from './pipelines';
import { isProxyAddress } from '../shared/addresses';
import { resolveSecret } from '../shared/secrets';
import { readTlsFiles, type TlsSettings } from '../shared/tls';
import { SupervisorError } from '../protocol';
import { camelizeKeys, camelToSnake } from './case';
import { leaderSchema } from './leader';
import { executorSchema } from './executor';
import { storeSchema } from './store';
import { KAFKA_SASL_MECHANISMS, MSK_IAM_SIGNER_PACKAGE, mskSignerInstalled, saslProblems, type KafkaSaslSettings } from '../shared/kafka-connection';

/**
 * The configuration file's schema, one section per concern. Every object is strict (unknown
 * keys are errors, so a typo never silently falls back to a default); every field has a
 * default where one is safe. YAML keys are snake_case throughout.
 */

const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** 0 = any free port (tests); "" or a word is an error, never a silent random port. */
  port: z
    .custom<number | string>((v) => v === undefined || typeof v === 'number' || typeof v === 'string', { error: 'expected a port number 0–65535' })
    .transform((v, ctx) => {
      const n = typeof v === 'string' && /^\s*\d{1,5}\s*$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
        ctx.addIssue({ code: 'custom', message: `expected a port number 0–65535 (0 = any free port), got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return n;
    })
    .default(8090),
  /** Base URL used in alert links. */
  public_url: z.string().url().optional(),
  /** Failed bearer-token attempts allowed per client IP per minute before 429s. */
  auth_failures_per_minute: z.number().int().min(1).default(10),
  /**
   * Whether `X-Forwarded-For` names the client (for the auth rate limit and logs): false (the
   * socket's address), true (any proxy), or the proxy addresses/CIDRs to trust.
   */
  trust_proxy: z
    .union([z.boolean(), z.array(z.string().refine(isProxyAddress, { error: 'expected an IP address, a CIDR such as 10.0.0.0/8, or loopback/linklocal/uniquelocal' })).min(1)])
    .default(false),
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

/** Extra HTTP request headers (header values are redacted by `config show`: they often carry a key). */
const headersSchema = z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'expected an HTTP header name'), z.string()).default({});

/** TLS files of an HTTP connection (read by src/shared/tls.ts; checked at load). */
const tlsYamlShape = {
  /** PEM CA(s) to trust instead of Node's bundled roots (a private CA). */
  ca_file: z.string().min(1).optional(),
  /** Client certificate and key (mutual TLS). */
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  key_password: z.string().optional(),
  key_password_file: z.string().min(1).optional(),
  /** Name to verify the certificate against, when it differs from the URL's host. */
  servername: z.string().min(1).optional(),
  /** false accepts any certificate (a test bench only). */
  reject_unauthorized: z.boolean().optional(),
};

/** Resolves `<key>_file` into `<key>` for each secret key (the path stays, for `config show`). */
function withSecrets<T extends Record<string, unknown>>(keys: readonly string[]) {
  return (c: T, ctx: z.core.$RefinementCtx<T>): T => {
    const out: Record<string, unknown> = { ...c };
    for (const key of keys) {
      try {
        const value = resolveSecret({ key, value: c[key] as string | undefined, file: c[`${key}_file`] as string | undefined });
        if (value !== undefined) out[key] = value;
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: [c[key] !== undefined && c[`${key}_file`] !== undefined ? key : `${key}_file`],
          message: errMessage(err).replace(new RegExp(`^${key}_file: `), ''),
        });
      }
    }
    return out as T;
  };
}

/** Reads the TLS files once at load so a wrong path is a config error (naming key and path). */
function checkTlsFiles(c: Partial<Record<keyof typeof tlsYamlShape, unknown>>, ctx: z.core.$RefinementCtx<unknown>): void {
  if (!Object.keys(tlsYamlShape).some((k) => c[k as keyof typeof tlsYamlShape] !== undefined)) return;
  try {
    readTlsFiles(camelizeKeys(pickTlsYaml(c)) as TlsSettings);
  } catch (err) {
    const key = err instanceof SupervisorError && err.where ? err.where : 'ca_file';
    ctx.addIssue({ code: 'custom', path: [key], message: errMessage(err).replace(`${key}: `, '') });
  }
}

/** The error's own sentence (describeError would append `(at …)`: the issue path says where). */
function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function pickTlsYaml(c: Partial<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(tlsYamlShape).flatMap((k) => (c[k] !== undefined ? [[k, c[k]]] : [])));
}

/** `connections.kafka.sasl` (checked by src/shared/kafka-connection.ts's `saslProblems`). */
const kafkaSaslYamlSchema = z
  .strictObject({
    mechanism: z.enum(KAFKA_SASL_MECHANISMS),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    password_file: z.string().min(1).optional(),
    /** oauthbearer: the OIDC token endpoint (client-credentials grant), client, scope, SASL extensions. */
    token_endpoint_url: z.string().url().optional(),
    client_id: z.string().min(1).optional(),
    client_secret: z.string().optional(),
    client_secret_file: z.string().min(1).optional(),
    scope: z.string().optional(),
    extensions: z.record(z.string(), z.string()).optional(),
    /** CA of an https token endpoint behind a private CA. */
    token_endpoint_ca_file: z.string().min(1).optional(),
    /** aws-msk-iam: the MSK cluster's AWS region (needs the aws-msk-iam-sasl-signer-js package). */
    region: z.string().min(1).optional(),
  })
  .transform(withSecrets(['password', 'client_secret']))
  .superRefine((c, ctx) => {
    const settings = { ...(camelizeKeys(c) as KafkaSaslSettings), ...(c.extensions ? { extensions: c.extensions } : {}) };
    for (const p of saslProblems(settings)) ctx.addIssue({ code: 'custom', path: [camelToSnake(p.key)], message: p.message });
    if (c.mechanism === 'aws-msk-iam' && !mskSignerInstalled()) {
      ctx.addIssue({ code: 'custom', path: ['mechanism'], message: `aws-msk-iam needs AWS's signer package, which is not installed (npm install ${MSK_IAM_SIGNER_PACKAGE})` });
    }
  });

const connectionsSchema = z.strictObject({
  kafka: z
    .strictObject({
      brokers: brokersSchema.default(['127.0.0.1:9092']),
      client_id: z.string().default('pipeline-supervisor'),
      /** true = TLS with Node's roots; an object = TLS with a CA, a client certificate, a server name. */
      ssl: z
        .union([
          z.boolean(),
          z
            .strictObject({ ...tlsYamlShape })
            .transform(withSecrets(['key_password']))
            .superRefine(checkTlsFiles),
        ])
        .default(false),
      /** plain / scram-sha-256 / scram-sha-512 with username + password, or oauthbearer with an OIDC client-credentials token endpoint. */
      sasl: kafkaSaslYamlSchema.optional(),
      connection_timeout: timerDurationMs.default(3_000),
      request_timeout: timerDurationMs.default(10_000),
    })
    .prefault({}),
  /** Basic auth (username + password) or a bearer token, extra headers, TLS files. */
  schema_registry: z
    .strictObject({
      url: z.string().url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
      username: z.string().optional(),
      password: z.string().optional(),
      password_file: z.string().optional(),
      /** Bearer token (not together with username/password). */
      token: z.string().optional(),
      token_file: z.string().optional(),
      headers: headersSchema,
      ...tlsYamlShape,
    })
    .transform(withSecrets(['password', 'token']))
    .superRefine((c, ctx) => {
      if (c.password !== undefined && c.username === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'password is set without username' });
      if (c.username !== undefined && c.token !== undefined)
        ctx.addIssue({ code: 'custom', path: ['token'], message: 'basic auth (username/password) and a bearer token are both set: choose one' });
      checkTlsFiles(c, ctx);
    })
    .prefault({}),
  /**
   * With no keys the AWS SDK's default credential chain is used (environment, shared
   * config/credentials files and AWS_PROFILE, web identity token, ECS, EC2 instance metadata).
   */
  s3: z
    .strictObject({
      endpoint: z.string().url().optional(),
      region: z.string().default('us-east-1'),
      access_key_id: z.string().optional(),
      secret_access_key: z.string().optional(),
      secret_access_key_file: z.string().optional(),
      session_token: z.string().optional(),
      session_token_file: z.string().optional(),
      force_path_style: z.boolean().default(true),
      ...tlsYamlShape,
    })
    .transform(withSecrets(['secret_access_key', 'session_token']))
    .superRefine((c, ctx) => {
      if ((c.access_key_id === undefined) !== (c.secret_access_key === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [c.access_key_id === undefined ? 'access_key_id' : 'secret_access_key'],
          message: 'access_key_id and secret_access_key go together (or leave both out for the default credential chain)',
        });
      }
      if (c.session_token !== undefined && c.access_key_id === undefined)
        ctx.addIssue({ code: 'custom', path: ['session_token'], message: 'session_token needs access_key_id and secret_access_key' });
      checkTlsFiles(c, ctx);
    })
    .prefault({}),
  /** The master's UI/JSON and, unless a check sets its own, the driver metrics URLs: TLS, basic auth, headers. */
  spark: z
    .strictObject({
      /** The standalone master's web UI (serves /json/). */
      master_ui: z.string().url().default('http://127.0.0.1:8080'),
      username: z.string().optional(),
      password: z.string().optional(),
      password_file: z.string().optional(),
      headers: headersSchema,
      ...tlsYamlShape,
    })
    .transform(withSecrets(['password']))
    .superRefine((c, ctx) => {
      if (c.password !== undefined && c.username === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'password is set without username' });
      checkTlsFiles(c, ctx);
    })
    .prefault({}),
});

export const CHECK_KINDS = ['kafka_cluster', 'consumer_lag', 'schema_registry', 'delta_freshness', 'spark'] as const;

const checkTimer = durationSchema({ min: 100, max: MAX_TIMER_MS });

/** Common fields of every check; the kind-specific options are validated by the check module. */
export const checkCommonSchema = z.object({
  kind: z.enum(CHECK_KINDS),
  enabled: z.boolean().default(true),
  /** Each feeds one timer: at least 100 ms (0 would spin), at most one timer's reach (≈ 24.8 days). */
  interval: checkTimer.optional(),
  timeout: checkTimer.optional(),
});

const checksSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'check names are letters, digits, _ and -'), checkCommonSchema.loose()).default({});

const rootSchema = z.strictObject({
  server: serverSchema.prefault({}),
  store: storeSchema.prefault({}),
  leader: leaderSchema.prefault({}),
  executor: executorSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  variables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  connections: connectionsSchema.prefault({}),
  checks: checksSchema,
  pipelines: pipelinesSchema,
  alerts: alertsConfigSchema.prefault({}),
});

/** The root schema, plus each check's own options validated by its module (with YAML paths). */
export const configSchema = rootSchema.superRefine((config, ctx) => {
  for (const issue of checkIssuesOf(config.checks, config.connections)) ctx.addIssue(issue);
});

type CheckOptionIssue = { code: 'custom'; path: PropertyKey[]; message: string } | { code: 'unrecognized_keys'; keys: string[]; path: PropertyKey[]; message: string };

function checkIssuesOf(checks: Readonly<Record<string, z.output<typeof checkCommonSchema>>>, connections: z.output<typeof connectionsSchema>): CheckOptionIssue[] {
  const out: CheckOptionIssue[] = [];
  for (const [name, check] of Object.entries(checks)) {
    for (const issue of resolveCheck(name, check, connections).issues) {
      const path = ['checks', name, ...issue.path];
      out.push(issue.keys ? { code: 'unrecognized_keys', keys: issue.keys, path, message: issue.message } : { code: 'custom', path, message: issue.message });
    }
  }
  return out;
}

/**
 * The whole validation, reporting every problem at once: zod skips a refinement once anything
 * else failed, so each check's options are validated here on their own, whatever else is
 * wrong in the file (a broken `connections:` falls back to the defaults for this pass).
 */
export function validateRawConfig(raw: unknown): { success: true; data: SupervisorConfig } | { success: false; issues: z.core.$ZodIssue[] } {
  const parsed = rootSchema.safeParse(raw);
  const root = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const connections = parsed.success ? parsed.data.connections : (connectionsSchema.safeParse(root.connections ?? {}).data ?? connectionsSchema.parse({}));
  const checks: Record<string, z.output<typeof checkCommonSchema>> = {};
  if (parsed.success) Object.assign(checks, parsed.data.checks);
  else if (root.checks && typeof root.checks === 'object' && !Array.isArray(root.checks)) {
    for (const [name, value] of Object.entries(root.checks as Record<string, unknown>)) {
      const one = checkCommonSchema.loose().safeParse(value);
      if (one.success) checks[name] = one.data;
    }
  }
  const extra = checkIssuesOf(checks, connections) as unknown as z.core.$ZodIssue[];
  if (parsed.success && extra.length === 0) return { success: true, data: parsed.data };
  return { success: false, issues: [...(parsed.success ? [] : parsed.error.issues), ...extra] };
}

export type SupervisorConfig = z.infer<typeof rootSchema>;
export type ConnectionsConfig = SupervisorConfig['connections'];
export type CheckConfig = SupervisorConfig['checks'][string];
