/**
 * The `alerts:` section of the YAML config: sinks, the route, rules, inhibition. Strict
 * objects (unknown keys are rejected), defaults filled in, durations turned into ms.
 */
import { z } from 'zod';
import { durationMs, timerDurationMs } from '../src/shared/duration';
import { regexProblem } from '../src/shared/linear-regex';

/** The one duration parser (src/shared/duration): a string with units or a bare number of seconds, bounded. */
export const duration = durationMs;

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const name = (what: string) => z.string().regex(NAME, `${what} must start with a letter or _ and use only letters, digits, _ . -`);
const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');
const labelMap = z.record(z.string(), z.string());
/** Label matchers (exact or `~regex`); each bad regex is an issue at its own label, so the loader names the field. */
const matchers = labelMap.superRefine((m, ctx) => {
  for (const [label, value] of Object.entries(m)) {
    if (!value.startsWith('~')) continue;
    const problem = regexProblem(value.slice(1), 'full');
    if (problem) ctx.addIssue({ code: 'custom', path: [label], message: problem });
  }
});
const oneOrMany = <T extends z.ZodTypeAny>(t: T) => z.union([t, z.array(t).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

/** Sink timeouts feed one timer each: at most ≈ 24.8 days. */
const timeout = timerDurationMs.default(10_000);

export const slackSinkSchema = z.strictObject({
  type: z.literal('slack'),
  url: httpUrl,
  /** Overrides the webhook's channel when the app allows it. */
  channel: z.string().optional(),
  username: z.string().optional(),
  timeout,
});

export const emailSinkSchema = z.strictObject({
  type: z.literal('email'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(25),
  /** TLS from the first byte (port 465). Otherwise STARTTLS is used when the server offers it. */
  secure: z.boolean().default(false),
  user: z.string().optional(),
  password: z.string().optional(),
  from: z.string().min(3),
  to: z.array(z.string().min(3)).min(1),
  subject_prefix: z.string().default('[supervisor]'),
  timeout: timerDurationMs.default(15_000),
});

export const webhookSinkSchema = z.strictObject({
  type: z.literal('webhook'),
  url: httpUrl,
  /** HMAC-SHA256 key; the body's signature goes in `X-Supervisor-Signature-256: sha256=<hex>`. */
  secret: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  timeout,
});

export const alertmanagerSinkSchema = z.strictObject({
  type: z.literal('alertmanager'),
  /** Base URL, e.g. http://127.0.0.1:9093 (the sink posts to /api/v2/alerts). */
  url: httpUrl,
  /** Firing alerts are re-sent this often so Alertmanager keeps them active (its resolve_timeout is 5m). */
  resend_interval: duration.default(60_000),
  timeout,
});

export const logSinkSchema = z.strictObject({ type: z.literal('log') });

export const sinkSchema = z.discriminatedUnion('type', [slackSinkSchema, emailSinkSchema, webhookSinkSchema, alertmanagerSinkSchema, logSinkSchema]);

export const routeSchema = z.strictObject({
  /** Sink names every notification goes to unless a rule names its own. */
  sinks: z.array(z.string()).default([]),
  /** Alerts of one rule sharing these label values are notified together. `['...']` = every label (no grouping). */
  group_by: z.array(z.string()).default(['alertname', 'check', 'pipeline']),
  /** Wait before the first notification of a new group (collects alerts that fire together). */
  group_wait: duration.default(0),
  /** Wait before notifying a change (alert added or resolved) in an already notified group. */
  group_interval: duration.default(60_000),
  repeat_interval: duration.default(4 * 3_600_000),
  send_resolved: z.boolean().default(true),
});

/** The configured check kinds, and the schedule monitor's own (src/engine/schedule-monitor.ts). */
export const CHECK_KINDS = ['kafka_cluster', 'consumer_lag', 'schema_registry', 'delta_freshness', 'spark', 'pipeline_deadline', 'pipeline_schedule'] as const;

export const ruleSchema = z.strictObject({
  name: name('rule name'),
  /** `signal`: over check results; `run`: over pipeline run events. */
  source: z.enum(['signal', 'run']).default('signal'),
  match: z
    .strictObject({
      check: oneOrMany(z.string()).optional(),
      kind: oneOrMany(z.enum(CHECK_KINDS)).optional(),
      /** Matchers over the signal's labels (exact or `~regex`). */
      labels: matchers.optional(),
      /** For `run` rules: pipeline names (default: every pipeline). */
      pipeline: oneOrMany(z.string()).optional(),
    })
    .prefault({}),
  /** The condition is true while the signal's status is at least this (ok < warn < unknown < crit). */
  status: z.enum(['warn', 'unknown', 'crit']).default('crit'),
  /** For `run` rules: run states that make the condition true; a later `success` makes it false (`cancelled` is opt-in: an operator did it). */
  run_states: z
    .array(z.enum(['failed', 'timed_out', 'skipped', 'cancelled']))
    .min(1)
    .default(['failed', 'timed_out']),
  for: duration.default(0),
  keep_firing_for: duration.default(0),
  severity: z.enum(['info', 'warning', 'critical']).default('critical'),
  /** Templates: `{{ check }}`, `{{ target }}`, `{{ value }}`, `{{ threshold }}`, `{{ unit }}`, `{{ summary }}`, `{{ labels.x }}`, `{{ pipeline }}`, `{{ state }}`, `{{ reason }}`. */
  summary: z.string().optional(),
  description: z.string().optional(),
  labels: labelMap.default({}),
  sinks: z.array(z.string()).optional(),
  repeat_interval: duration.optional(),
});

export const inhibitSchema = z.strictObject({
  source_match: matchers,
  target_match: matchers,
  /** Labels that must have equal values on source and target. */
  equal: z.array(z.string()).default([]),
});

export const alertsConfigSchema = z
  .strictObject({
    sinks: z.record(name('sink name'), sinkSchema).default({}),
    route: routeSchema.prefault({}),
    rules: z.array(ruleSchema).default([]),
    inhibit: z.array(inhibitSchema).default([]),
    /** Add DEFAULT_ALERT_RULES (a configured rule with the same name replaces the default one). */
    default_rules: z.boolean().default(true),
  })
  .superRefine((cfg, ctx) => {
    const known = new Set(Object.keys(cfg.sinks));
    cfg.route.sinks.forEach((s, i) => {
      if (!known.has(s)) ctx.addIssue({ code: 'custom', path: ['route', 'sinks', i], message: `unknown sink "${s}" (defined: ${[...known].join(', ') || 'none'})` });
    });
    const seen = new Set<string>();
    cfg.rules.forEach((rule, i) => {
      if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name "${rule.name}"` });
      seen.add(rule.name);
      rule.sinks?.forEach((s, j) => {
        if (!known.has(s)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'sinks', j], message: `unknown sink "${s}" (defined: ${[...known].join(', ') || 'none'})` });
      });
    });
  });

export type AlertsConfigInput = z.input<typeof alertsConfigSchema>;
export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type SinkConfig = z.output<typeof sinkSchema>;
export type SlackSinkConfig = z.output<typeof slackSinkSchema>;
export type EmailSinkConfig = z.output<typeof emailSinkSchema>;
export type WebhookSinkConfig = z.output<typeof webhookSinkSchema>;
export type AlertmanagerSinkConfig = z.output<typeof alertmanagerSinkSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type AlertRule = z.output<typeof ruleSchema>;
export type AlertRuleInput = z.input<typeof ruleSchema>;
export type InhibitRule = z.output<typeof inhibitSchema>;

/** Parse one rule written like the YAML (durations as strings). */
export function defineRule(input: AlertRuleInput): AlertRule {
  return ruleSchema.parse(input);
}

/** Default rules: every seed check (Kafka, lag, schema registry, freshness, Spark), failed runs, deadlines and missed schedules. */
export const DEFAULT_ALERT_RULES: readonly AlertRule[] = Object.freeze([
  defineRule({
    name: 'kafka_cluster_down',
    match: { kind: 'kafka_cluster' },
    status: 'unknown',
    // backed by fresh probes: a broker that refuses connections runs the check at once, and a
    // worse status is confirmed by two more runs one second apart (streams/check-scheduler)
    for: '2s',
    severity: 'critical',
    summary: 'Kafka cluster {{ target }} is down or unreachable',
    description: '{{ summary }}',
  }),
  defineRule({
    name: 'kafka_cluster_unhealthy',
    match: { kind: 'kafka_cluster' },
    status: 'warn',
    for: '5m',
    severity: 'warning',
    summary: 'Kafka cluster {{ target }} is degraded',
    description: '{{ summary }}',
  }),
  defineRule({
    name: 'consumer_lag_high',
    match: { kind: 'consumer_lag' },
    status: 'crit',
    for: '5m',
    severity: 'critical',
    summary: 'Consumer lag of {{ target }} is {{ value }} {{ unit }} (threshold {{ threshold }})',
    description: '{{ summary }}',
  }),
  defineRule({
    name: 'schema_registry_unavailable',
    match: { kind: 'schema_registry' },
    status: 'unknown',
    for: '2m',
    severity: 'warning',
    summary: 'Schema registry {{ target }} is unavailable or subjects are missing',
    description: '{{ summary }}',
  }),
  defineRule({
    name: 'data_stale',
    match: { kind: 'delta_freshness' },
    status: 'crit',
    for: '0s',
    severity: 'critical',
    summary: 'Data stale: {{ check }} last changed {{ value }} {{ unit }} ago (threshold {{ threshold }})',
    description: '{{ summary }}',
  }),
  defineRule({
    name: 'spark_unhealthy',
    match: { kind: 'spark' },
    status: 'unknown',
    for: '2m',
    severity: 'critical',
    summary: 'Spark {{ target }} is unhealthy',
    description: '{{ summary }}',
  }),
  // no `for`: the monitor's first evaluation is at the daemon's start, so a deadline that passed
  // while it was down pages at once; the signal's summary names the logical dates and why
  defineRule({
    name: 'PipelineDeadlineMissed',
    match: { kind: 'pipeline_deadline' },
    status: 'crit',
    for: '0s',
    severity: 'critical',
    summary: 'Pipeline {{ labels.pipeline }} missed its deadline ({{ value }} logical date(s) without a successful run)',
    description: '{{ summary }}',
  }),
  defineRule({
    name: 'PipelineScheduleMissed',
    match: { kind: 'pipeline_schedule' },
    status: 'warn',
    for: '0s',
    severity: 'warning',
    summary: 'Pipeline {{ labels.pipeline }} missed {{ value }} schedule tick(s)',
    description: '{{ summary }}',
  }),
  defineRule({
    name: 'pipeline_run_failed',
    source: 'run',
    run_states: ['failed', 'timed_out'],
    severity: 'critical',
    summary: 'Pipeline {{ pipeline }} run {{ state }}',
    description: 'Run {{ runId }} of {{ pipeline }} ended {{ state }}: {{ reason }}',
  }),
]);

/** Kafka down inhibits freshness and lag alerts (they are consequences); a down cluster also hides "degraded". */
export const DEFAULT_INHIBIT_RULES: readonly InhibitRule[] = Object.freeze([
  inhibitSchema.parse({ source_match: { alertname: 'kafka_cluster_down' }, target_match: { alertname: '~data_stale|consumer_lag_high' } }),
  inhibitSchema.parse({ source_match: { alertname: 'kafka_cluster_down' }, target_match: { alertname: 'kafka_cluster_unhealthy' }, equal: ['check'] }),
]);

/** The rules and inhibitions the engine runs: defaults (unless switched off) overridden by name, then the configured ones. */
export function resolveAlertRules(config: Pick<AlertsConfig, 'rules' | 'inhibit' | 'default_rules'>): { rules: AlertRule[]; inhibit: InhibitRule[] } {
  const configured = new Set(config.rules.map((r) => r.name));
  const defaults = config.default_rules ? DEFAULT_ALERT_RULES.filter((r) => !configured.has(r.name)) : [];
  return {
    rules: [...defaults, ...config.rules],
    inhibit: [...(config.default_rules ? DEFAULT_INHIBIT_RULES : []), ...config.inhibit],
  };
}
