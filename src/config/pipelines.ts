import { z } from 'zod';
import { scheduleProblems } from '../../streams/cron';
import { durationMs, durationSchema, formatDuration, timerDurationMs } from './duration';

/**
 * Schedules and time zones are checked here with the daemon's own check (streams/cron
 * scheduleProblems), so `config validate` and `start` agree.
 */

/** Trigger rules, as in Airflow: when a task may run given the states of its upstream tasks. */
export const triggerRuleSchema = z.enum(['all_success', 'all_done', 'one_failed', 'one_success', 'none_failed', 'always']);

export const OPERATORS = ['ingestion', 'kafka_health', 'data_freshness', 'spark_job', 'schema_registry', 'notify', 'collect_metrics', 'alert', 'command'] as const;
export const operatorSchema = z.enum(OPERATORS);

const retryPolicy = {
  retries: z.number().int().min(0).max(100).optional(),
  retry_delay: durationMs.optional(),
  /** Multiplier of the delay after each failed try (1 = constant). */
  retry_backoff: z.number().min(1).max(10).optional(),
  max_retry_delay: durationMs.optional(),
  retry_jitter: z.boolean().optional(),
  execution_timeout: durationMs.optional(),
};

export const taskSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'task ids are letters, digits, _ . - (starting with a letter or _)'),
  operator: operatorSchema,
  description: z.string().optional(),
  /** Task group (Airflow TaskGroup); group ids may be used in `upstream` of later tasks. */
  group: z.string().optional(),
  upstream: z.array(z.string()).default([]),
  trigger_rule: triggerRuleSchema.default('all_success'),
  ...retryPolicy,
  params: z.record(z.string(), z.unknown()).default({}),
});

const lagTriggerSchema = z.strictObject({
  type: z.literal('lag'),
  group: z.string().min(1),
  topic: z.string().min(1),
  /** Fire when the group's total lag on the topic is at most this many messages… */
  max_lag: z.number().int().min(0).default(0),
  /** …and has stayed there this long. */
  for: durationMs.default(60_000),
  cooldown: durationMs.default(900_000),
});

const offsetsTriggerSchema = z.strictObject({
  type: z.literal('offsets'),
  topic: z.string().min(1),
  /** Decode record values through the schema registry and pass them as run params. */
  decode: z.enum(['none', 'json', 'schema_registry']).default('schema_registry'),
  /** Wait this long after the first new message to batch further ones into the same run. */
  batch_window: timerDurationMs.default(2_000),
  max_batch: z.number().int().min(1).max(10_000).default(100),
});

export const pipelineTriggerSchema = z.discriminatedUnion('type', [lagTriggerSchema, offsetsTriggerSchema]);

export const gateSchema = z.strictObject({
  /** Skip scheduled runs while the Kafka cluster check is crit/unknown. */
  kafka_healthy: z.boolean().default(false),
  /** Skip scheduled runs while this group's lag on this topic is above max_lag. */
  max_lag: z.strictObject({ group: z.string().min(1), topic: z.string().min(1), max_lag: z.number().int().min(0) }).optional(),
});

/** A deadline's `after`: positive (a run cannot be due before its start); "-5m" and 0 are named as such. */
const deadlineAfter = z
  .custom<string | number>(() => true)
  .superRefine((value, ctx) => {
    const negative = (typeof value === 'number' && value < 0) || (typeof value === 'string' && value.trim().startsWith('-'));
    if (negative) ctx.addIssue({ code: 'custom', message: `a deadline must be a positive duration, got ${JSON.stringify(value)} (negative)` });
    else if (value === 0 || (typeof value === 'string' && /^\s*0+(\.0*)?\s*[a-z]*\s*$/i.test(value)))
      ctx.addIssue({ code: 'custom', message: `a deadline must be a positive duration, got ${JSON.stringify(value)}` });
  })
  .pipe(durationSchema({ min: 1_000 }));

/**
 * When a run must have succeeded: `after` its logical date (the cron tick) or its queued time.
 * Checked by src/engine/schedule-monitor.ts over the last `lookback` of logical dates.
 */
export const deadlineSchema = z
  .strictObject({
    after: deadlineAfter,
    from: z.enum(['logical_date', 'queued_at']).default('logical_date'),
    /** How far back logical dates are checked (and missed ticks reported). */
    lookback: durationSchema({ min: 60_000 }).default(86_400_000),
  })
  .superRefine((d, ctx) => {
    // a date is due `after` past it: one older than the lookback is never looked at again
    if (d.after >= d.lookback)
      ctx.addIssue({
        code: 'custom',
        path: ['lookback'],
        message: `the lookback (${formatDuration(d.lookback)}) must be longer than the deadline's after (${formatDuration(d.after)})`,
      });
  });

export const pipelineSchema = z
  .strictObject({
    description: z.string().optional(),
    aliases: z.array(z.string()).default([]),
    /** Cron expression (5 or 6 fields), or null for manual/event-only pipelines. */
    schedule: z
      .string()
      .superRefine((schedule, ctx) => {
        for (const p of scheduleProblems(schedule, 'UTC')) ctx.addIssue({ code: 'custom', message: p.message });
      })
      .nullable()
      .default(null),
    timezone: z
      .string()
      .superRefine((zone, ctx) => {
        for (const p of scheduleProblems('0 0 * * *', zone)) ctx.addIssue({ code: 'custom', message: p.message });
      })
      .default('UTC'),
    catchup: z.boolean().default(false),
    /** What to do with a tick while a run is active. */
    overlap: z.enum(['skip', 'buffer_one', 'queue']).default('skip'),
    max_active_runs: z.number().int().min(1).max(64).default(1),
    run_timeout: durationMs.optional(),
    paused: z.boolean().default(false),
    defaults: z.strictObject(retryPolicy).prefault({}),
    triggers: z.array(pipelineTriggerSchema).default([]),
    gate: gateSchema.optional(),
    /** Alert when a run has not succeeded this long after its logical date (or queued time). */
    deadline: deadlineSchema.optional(),
    tasks: z.array(taskSchema).min(1, 'a pipeline needs at least one task'),
  })
  .superRefine((pipeline, ctx) => {
    const ids = new Set<string>();
    const groups = new Set(pipeline.tasks.map((t) => t.group).filter((g): g is string => g !== undefined));
    pipeline.tasks.forEach((task, i) => {
      if (ids.has(task.id)) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'id'], message: `duplicate task id "${task.id}"` });
      if (groups.has(task.id)) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'id'], message: `task id "${task.id}" is also a group name` });
      ids.add(task.id);
    });
    pipeline.tasks.forEach((task, i) => {
      task.upstream.forEach((up, j) => {
        if (!ids.has(up) && !groups.has(up)) {
          ctx.addIssue({
            code: 'custom',
            path: ['tasks', i, 'upstream', j],
            message: `"${up}" is neither a task nor a group of this pipeline (known: ${[...ids, ...groups].join(', ')})`,
          });
        }
        if (up === task.id || up === task.group)
          ctx.addIssue({ code: 'custom', path: ['tasks', i, 'upstream', j], message: `task "${task.id}" cannot depend on itself or its own group` });
      });
    });
    const cycle = findCycle(pipeline.tasks);
    if (cycle) ctx.addIssue({ code: 'custom', path: ['tasks'], message: `the tasks form a cycle: ${cycle.join(' → ')}` });
  });

export const pipelinesSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'pipeline ids are letters, digits, _ and -'), pipelineSchema).default({});

export type PipelineConfig = z.infer<typeof pipelineSchema>;
export type TaskConfig = z.infer<typeof taskSchema>;
export type PipelineTriggerConfig = z.infer<typeof pipelineTriggerSchema>;
export type DeadlineConfig = z.infer<typeof deadlineSchema>;
export type OperatorName = (typeof OPERATORS)[number];

/** Upstream ids with groups expanded to their member tasks. */
export function expandUpstream(tasks: readonly Pick<TaskConfig, 'id' | 'group' | 'upstream'>[], task: Pick<TaskConfig, 'upstream'>): string[] {
  const out = new Set<string>();
  for (const up of task.upstream) {
    const members = tasks.filter((t) => t.group === up).map((t) => t.id);
    if (members.length > 0) members.forEach((m) => out.add(m));
    else out.add(up);
  }
  return [...out];
}

function findCycle(tasks: readonly Pick<TaskConfig, 'id' | 'group' | 'upstream'>[]): string[] | null {
  const deps = new Map(tasks.map((t) => [t.id, expandUpstream(tasks, t)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    if (state.get(id) === 'done') return null;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 'done');
    return null;
  };
  for (const t of tasks) {
    const c = visit(t.id);
    if (c) return c;
  }
  return null;
}
