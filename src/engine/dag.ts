/**
 * The pipeline model the runner executes: the validated config of one pipeline with task
 * groups expanded, retry policies resolved (task → pipeline defaults → built-in defaults) and
 * a topological order. Pure: no I/O, no time.
 */
import { SupervisorError, type TaskState, type TriggerRule } from '../protocol';
import { expandUpstream, type PipelineConfig, type PipelineTriggerConfig, type OperatorName } from '../config/pipelines';
import type { SupervisorConfig } from '../config/schema';

export interface RetryPolicy {
  /** Extra tries after the first one. */
  retries: number;
  retryDelayMs: number;
  /** Multiplier per failed try; 1 = constant delay. */
  backoff: number;
  maxRetryDelayMs: number;
  jitter: boolean;
}

export interface TaskSpec {
  id: string;
  operator: OperatorName;
  group: string | null;
  /** Upstream task ids, groups expanded. */
  upstream: readonly string[];
  /** Downstream task ids. */
  downstream: readonly string[];
  triggerRule: TriggerRule;
  retry: RetryPolicy;
  executionTimeoutMs: number | null;
  params: Readonly<Record<string, unknown>>;
}

export interface PipelineSpec {
  id: string;
  aliases: readonly string[];
  description: string | null;
  schedule: string | null;
  timezone: string;
  catchup: boolean;
  overlap: 'skip' | 'buffer_one' | 'queue';
  maxActiveRuns: number;
  runTimeoutMs: number | null;
  paused: boolean;
  triggers: readonly PipelineTriggerConfig[];
  gate: PipelineConfig['gate'] | null;
  /** When a run must have succeeded (src/engine/schedule-monitor.ts); null: no deadline. */
  deadline: { afterMs: number; from: 'logical_date' | 'queued_at'; lookbackMs: number } | null;
  /** Tasks in a topological order (config order among independent tasks). */
  tasks: readonly TaskSpec[];
  groups: Readonly<Record<string, readonly string[]>>;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 0,
  retryDelayMs: 300_000,
  backoff: 1,
  maxRetryDelayMs: 3_600_000,
  jitter: true,
};

export function buildPipeline(id: string, config: PipelineConfig): PipelineSpec {
  const d = config.defaults;
  const downstream = new Map<string, string[]>(config.tasks.map((t) => [t.id, []]));
  const built = config.tasks.map((t): TaskSpec => {
    const upstream = expandUpstream(config.tasks, t);
    for (const u of upstream) downstream.get(u)?.push(t.id);
    return {
      id: t.id,
      operator: t.operator,
      group: t.group ?? null,
      upstream,
      downstream: [],
      triggerRule: t.trigger_rule,
      retry: {
        retries: t.retries ?? d.retries ?? DEFAULT_RETRY.retries,
        retryDelayMs: t.retry_delay ?? d.retry_delay ?? DEFAULT_RETRY.retryDelayMs,
        backoff: t.retry_backoff ?? d.retry_backoff ?? DEFAULT_RETRY.backoff,
        maxRetryDelayMs: t.max_retry_delay ?? d.max_retry_delay ?? DEFAULT_RETRY.maxRetryDelayMs,
        jitter: t.retry_jitter ?? d.retry_jitter ?? DEFAULT_RETRY.jitter,
      },
      executionTimeoutMs: t.execution_timeout ?? d.execution_timeout ?? null,
      params: t.params,
    };
  });
  const tasks = topoSort(built).map((t) => ({ ...t, downstream: downstream.get(t.id) ?? [] }));
  const groups: Record<string, string[]> = {};
  for (const t of tasks) if (t.group) (groups[t.group] ??= []).push(t.id);
  return {
    id,
    aliases: config.aliases,
    description: config.description ?? null,
    schedule: config.schedule,
    timezone: config.timezone,
    catchup: config.catchup,
    overlap: config.overlap,
    maxActiveRuns: config.max_active_runs,
    runTimeoutMs: config.run_timeout ?? null,
    paused: config.paused,
    triggers: config.triggers,
    gate: config.gate ?? null,
    deadline: config.deadline ? { afterMs: config.deadline.after, from: config.deadline.from, lookbackMs: config.deadline.lookback } : null,
    tasks,
    groups,
  };
}

function topoSort(tasks: TaskSpec[]): TaskSpec[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const out: TaskSpec[] = [];
  const done = new Set<string>();
  const visit = (t: TaskSpec, path: Set<string>): void => {
    if (done.has(t.id)) return;
    if (path.has(t.id)) throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `tasks form a cycle through "${t.id}"`);
    path.add(t.id);
    for (const u of t.upstream) {
      const up = byId.get(u);
      if (up) visit(up, path);
    }
    path.delete(t.id);
    done.add(t.id);
    out.push(t);
  };
  for (const t of tasks) visit(t, new Set());
  return out;
}

/** Every pipeline of the config, addressable by id or alias. */
export interface PipelineCatalog {
  list(): readonly PipelineSpec[];
  /** By id or alias; throws SUP_ERR_NOT_FOUND naming the known ones. */
  get(nameOrAlias: string): PipelineSpec;
  find(nameOrAlias: string): PipelineSpec | null;
}

export function createPipelineCatalog(config: Pick<SupervisorConfig, 'pipelines'>): PipelineCatalog {
  const specs = Object.entries(config.pipelines).map(([id, p]) => buildPipeline(id, p));
  const index = new Map<string, PipelineSpec>();
  for (const s of specs) {
    index.set(s.id, s);
    for (const a of s.aliases) if (!index.has(a)) index.set(a, s);
  }
  const find = (name: string): PipelineSpec | null => index.get(name) ?? null;
  return {
    list: () => specs,
    find,
    get: (name) => {
      const spec = find(name);
      if (!spec) {
        const known = specs.map((s) => (s.aliases.length ? `${s.id} (${s.aliases.join(', ')})` : s.id)).join(', ');
        throw new SupervisorError('SUP_ERR_NOT_FOUND', `no pipeline "${name}" (known: ${known || 'none'})`, { where: 'pipelines' });
      }
      return spec;
    },
  };
}

export function getTask(pipeline: PipelineSpec, taskId: string): TaskSpec {
  const task = pipeline.tasks.find((t) => t.id === taskId);
  if (!task) {
    throw new SupervisorError('SUP_ERR_NOT_FOUND', `pipeline "${pipeline.id}" has no task "${taskId}" (tasks: ${pipeline.tasks.map((t) => t.id).join(', ')})`, {
      where: `pipelines.${pipeline.id}.tasks`,
    });
  }
  return task;
}

// ---------------------------------------------------------------------------------------------
// Trigger rules

export type RuleDecision = 'run' | 'wait' | 'skip' | 'upstream_failed';

const FAILED: ReadonlySet<TaskState> = new Set(['failed', 'upstream_failed', 'timed_out', 'cancelled']);
const DONE: ReadonlySet<TaskState> = new Set(['success', 'failed', 'skipped', 'upstream_failed', 'timed_out', 'cancelled']);

export function isTaskDone(state: TaskState): boolean {
  return DONE.has(state);
}

export function isTaskFailed(state: TaskState): boolean {
  return FAILED.has(state);
}

/**
 * Airflow's trigger rules. Given the states of a task's upstream tasks, decide whether it runs
 * now, waits, is skipped or is marked upstream_failed.
 */
export function evaluateTriggerRule(rule: TriggerRule, upstream: readonly TaskState[]): RuleDecision {
  if (upstream.length === 0 || rule === 'always') return 'run';
  const done = upstream.filter(isTaskDone);
  const allDone = done.length === upstream.length;
  const failed = upstream.filter((s) => FAILED.has(s)).length;
  const success = upstream.filter((s) => s === 'success').length;
  const skipped = upstream.filter((s) => s === 'skipped').length;
  switch (rule) {
    case 'all_success':
      if (failed > 0) return 'upstream_failed';
      if (skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'one_failed':
      if (failed > 0) return 'run';
      return allDone ? 'skip' : 'wait';
    case 'one_success':
      if (success > 0) return 'run';
      if (!allDone) return 'wait';
      return skipped === upstream.length ? 'skip' : 'upstream_failed';
    case 'none_failed':
      if (failed > 0) return 'upstream_failed';
      return allDone ? 'run' : 'wait';
  }
}

// ---------------------------------------------------------------------------------------------
// Retries

/**
 * Delay before try `nextTry` (2 = the first retry): retryDelay × backoff^(nextTry-2), with
 * ±20 % jitter when enabled, capped at maxRetryDelay.
 */
export function retryDelay(policy: RetryPolicy, nextTry: number, random: () => number = Math.random): number {
  const exp = Math.max(0, nextTry - 2);
  let delay = policy.retryDelayMs * Math.pow(policy.backoff, exp);
  if (policy.jitter) delay *= 0.8 + 0.4 * random();
  return Math.max(0, Math.round(Math.min(delay, policy.maxRetryDelayMs)));
}
