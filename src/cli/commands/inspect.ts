/**
 * Inspect verbs, read-only, each with `--json` (Airflow's spellings accepted where cheap):
 *
 * - `dags list-runs PIPELINE [--state S…] [--limit N] [-s FROM] [-e TO]` (also `-d PIPELINE`)
 * - `dags state PIPELINE DATE` — the state of the run of that logical date
 * - `dags next-execution PIPELINE [-n N] [--after DATE]` — the next ticks, UTC and local time
 * - `dags show PIPELINE [--format text|mermaid|dot]` — the DAG with its groups and trigger rules
 * - `tasks state RUN TASK` or Airflow's `tasks state PIPELINE TASK DATE`
 *
 * The same verbs are registered under `pipelines`. Everything is read from the config and the
 * store; nothing here talks to the daemon or changes state.
 */
import type { Command } from 'commander';
import { createPipelineCatalog, type PipelineSpec } from '../../engine/dag';
import { GRAPH_FORMATS, graphJson, renderGraph, type GraphFormat } from '../../engine/dag-render';
import { summarizeRun } from '../../engine/run-summary';
import { NEXT_EXECUTIONS_MAX, nextExecutions } from '../../engine/schedule-preview';
import { SupervisorError, type RunState } from '../../protocol';
import { LIMITS } from '../../shared/limits';
import { createPipelineStateStore } from '../../store/pipeline-state';
import { createRunStore, type RunRecord, type RunStore } from '../../store/runs';
import type { CliContext } from '../context';
import { iso, parseDate, parsePositiveInt, table } from './pipelines';

const RUN_STATES: readonly RunState[] = ['queued', 'running', 'success', 'failed', 'skipped', 'timed_out', 'cancelled'];
const DEFAULT_LIST_LIMIT = 20;

type SetExit = (code: number) => void;

function pipelineOf(ctx: CliContext, name: string): PipelineSpec {
  return createPipelineCatalog(ctx.loadConfig().config).get(name);
}

/** Paused as the daemon sees it: the store's state, else (a pipeline it has not seen yet) the config's initial value. */
function pauseOf(ctx: CliContext, spec: PipelineSpec): { paused: boolean; since: number | null; by: string | null; reason: string | null } {
  const record = createPipelineStateStore(ctx.openStore()).get(spec.id);
  if (!record) return { paused: spec.paused, since: null, by: null, reason: null };
  return { paused: record.paused, since: record.changedAt, by: record.changedBy, reason: record.reason };
}

/** `--state failed --state running` or `--state failed,running`: each checked against the run states. */
export function parseStates(values: readonly string[]): RunState[] {
  const out: RunState[] = [];
  for (const value of values.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    if (!(RUN_STATES as readonly string[]).includes(value))
      throw new SupervisorError(
        'SUP_ERR_USAGE',
        `--state ${JSON.stringify(value)} is not a run state; use one of ${RUN_STATES.join(', ')} (repeat --state or separate with commas)`,
      );
    if (!out.includes(value as RunState)) out.push(value as RunState);
  }
  return out;
}

/** `-n`: an integer from 1 to NEXT_EXECUTIONS_MAX. */
export function parseExecutionCount(text: string): number {
  const n = /^\s*\d{1,7}\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > NEXT_EXECUTIONS_MAX)
    throw new SupervisorError('SUP_ERR_USAGE', `-n (--num-executions) must be an integer from 1 to ${NEXT_EXECUTIONS_MAX}, got ${JSON.stringify(text)}`);
  return n;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function duration(r: { startedAt: number | null; endedAt: number | null }): string {
  if (r.startedAt === null || r.endedAt === null) return '-';
  const ms = r.endedAt - r.startedAt;
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

const runRow = (r: RunRecord) => ({
  runId: r.id,
  pipeline: r.pipeline,
  logicalDate: r.logicalDate,
  kind: r.kind,
  state: r.state,
  reason: r.reason,
  queuedAt: r.queuedAt,
  startedAt: r.startedAt,
  endedAt: r.endedAt,
});

/** The run of a logical date: the one holding the (pipeline, date) key, else the newest with that date (a test or re-run). */
function runOfDate(store: RunStore, spec: PipelineSpec, logicalDate: number, dateText: string): RunRecord {
  const run = store.findRun(spec.id, logicalDate) ?? store.listRuns({ pipeline: spec.id, from: logicalDate, to: logicalDate, limit: 1 })[0];
  if (!run)
    throw new SupervisorError(
      'SUP_ERR_NOT_FOUND',
      `DATE: pipeline "${spec.id}" has no run for logical date ${iso(logicalDate)} (from ${JSON.stringify(dateText)}); see \`supervisor dags list-runs ${spec.id}\``,
    );
  return run;
}

// ---------------------------------------------------------------------------------------------
// actions

interface ListRunsFlags {
  dagId?: string;
  state: string[];
  limit?: string;
  startDate?: string;
  endDate?: string;
  output?: string;
}

function listRunsAction(ctx: CliContext, positional: string | undefined, flags: ListRunsFlags): void {
  if (positional !== undefined && flags.dagId !== undefined && positional !== flags.dagId)
    throw new SupervisorError('SUP_ERR_USAGE', `PIPELINE "${positional}" and -d/--dag-id "${flags.dagId}" disagree; give one of them`);
  const name = positional ?? flags.dagId;
  if (name === undefined) throw new SupervisorError('SUP_ERR_USAGE', 'PIPELINE is required (or -d/--dag-id PIPELINE, as in Airflow)');
  const states = parseStates(flags.state);
  const limit = flags.limit === undefined ? DEFAULT_LIST_LIMIT : parsePositiveInt(flags.limit, '--limit');
  if (limit > LIMITS.pageSize) throw new SupervisorError('SUP_ERR_USAGE', `--limit is at most ${LIMITS.pageSize} (as in the API), got ${limit}`);
  const from = flags.startDate !== undefined ? parseDate(flags.startDate, '--start-date') : undefined;
  const to = flags.endDate !== undefined ? parseDate(flags.endDate, '--end-date') : undefined;
  if (from !== undefined && to !== undefined && from > to) throw new SupervisorError('SUP_ERR_USAGE', `--start-date ${iso(from)} is after --end-date ${iso(to)}`);
  if (flags.output !== undefined && flags.output !== 'table' && flags.output !== 'json')
    throw new SupervisorError('SUP_ERR_USAGE', `-o/--output ${JSON.stringify(flags.output)} is not an output format; use table or json`);
  const json = ctx.json || flags.output === 'json';
  const spec = pipelineOf(ctx, name);
  const rows = createRunStore(ctx.openStore())
    .listRuns({ pipeline: spec.id, ...(states.length ? { state: states } : {}), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), limit })
    .map(runRow);
  if (json) return ctx.stdout(JSON.stringify(rows));
  if (rows.length === 0) return ctx.stdout(`no runs of ${spec.id}${states.length ? ` in state ${states.join(' or ')}` : ''}`);
  ctx.stdout(
    table(
      ['RUN', 'LOGICAL DATE', 'TRIGGER', 'STATE', 'STARTED', 'ENDED', 'DURATION', 'REASON'],
      rows.map((r) => [r.runId, iso(r.logicalDate), r.kind, r.state, iso(r.startedAt), iso(r.endedAt), duration(r), r.reason ?? '']),
    ),
  );
}

function dagStateAction(ctx: CliContext, name: string, date: string): void {
  const spec = pipelineOf(ctx, name);
  const logicalDate = parseDate(date, 'DATE');
  const store = createRunStore(ctx.openStore());
  const run = runOfDate(store, spec, logicalDate, date);
  if (ctx.json) {
    // `created` says whether a trigger made the run: meaningless for a query
    const { created: _created, ...summary } = summarizeRun(store, run);
    return ctx.stdout(JSON.stringify(summary));
  }
  ctx.stdout(run.state);
}

function taskStateAction(ctx: CliContext, first: string, taskId: string, date: string | undefined): void {
  const store = createRunStore(ctx.openStore());
  const catalog = createPipelineCatalog(ctx.loadConfig().config);
  let run: RunRecord;
  if (date === undefined) {
    const found = store.getRun(first);
    if (!found) {
      const hint = catalog.find(first) ? `; "${first}" is a pipeline: give its logical date too (tasks state PIPELINE TASK DATE)` : ' (see `supervisor runs list`)';
      throw new SupervisorError('SUP_ERR_NOT_FOUND', `RUN: run "${first}" does not exist${hint}`);
    }
    run = found;
  } else {
    const spec = catalog.get(first);
    run = runOfDate(store, spec, parseDate(date, 'DATE'), date);
  }
  const instance = store.getTask(run.id, taskId);
  const spec = catalog.find(run.pipeline);
  if (!instance && !spec?.tasks.some((t) => t.id === taskId)) {
    const known = spec ? spec.tasks.map((t) => t.id) : store.listTasks(run.id).map((t) => t.taskId);
    throw new SupervisorError('SUP_ERR_NOT_FOUND', `TASK: pipeline "${run.pipeline}" has no task "${taskId}" (tasks: ${known.join(', ') || 'none'})`);
  }
  // a task of the pipeline without an instance in this run (e.g. a `tasks test` run of another task): Airflow's "None"
  const state = instance?.state ?? 'none';
  if (ctx.json) {
    return ctx.stdout(
      JSON.stringify({
        runId: run.id,
        pipeline: run.pipeline,
        logicalDate: run.logicalDate,
        taskId,
        state,
        tryNumber: instance?.tryNumber ?? 0,
        maxTries: instance?.maxTries ?? null,
        startedAt: instance?.startedAt ?? null,
        endedAt: instance?.endedAt ?? null,
        reason: instance?.reason ?? null,
        attempts: store.listAttempts(run.id, taskId),
      }),
    );
  }
  ctx.stdout(state);
}

function nextExecutionAction(ctx: CliContext, name: string, flags: { numExecutions: string; after?: string }): void {
  const n = parseExecutionCount(flags.numExecutions);
  const after = flags.after !== undefined ? parseDate(flags.after, '--after') : Date.now();
  const spec = pipelineOf(ctx, name);
  const pause = pauseOf(ctx, spec);
  const preview = nextExecutions(spec, after, n);
  if (ctx.json) return ctx.stdout(JSON.stringify({ ...preview, paused: pause.paused, pausedAt: pause.paused ? pause.since : null, pausedBy: pause.paused ? pause.by : null }));
  if (spec.schedule === null) return ctx.stdout(`${spec.id} has no schedule: it runs only when triggered (manually, or by its lag/offsets triggers)`);
  const lines = [`${spec.id}: schedule ${spec.schedule} in ${spec.timezone}`];
  if (pause.paused) {
    const who = pause.by ? ` by ${pause.by}` : pause.since === null ? ' (paused: true in the config)' : '';
    lines.push(
      `PAUSED${pause.since !== null ? ` since ${iso(pause.since)}` : ''}${who}${pause.reason ? `: ${pause.reason}` : ''} — these ticks do not fire until \`supervisor dags unpause ${spec.id}\``,
    );
  }
  if (preview.ticks.length === 0) lines.push('the schedule fires no more');
  else
    lines.push(
      table(
        ['#', 'LOGICAL DATE (UTC)', `LOCAL (${spec.timezone})`],
        preview.ticks.map((t, i) => [String(i + 1), iso(t.logicalDate), t.local]),
      ),
    );
  if (preview.ticks.length > 0 && preview.ticks.length < n) lines.push(`(the schedule fires only ${preview.ticks.length} more time(s))`);
  ctx.stdout(lines.join('\n'));
}

function showAction(ctx: CliContext, name: string, flags: { format?: string }): void {
  const format = flags.format ?? 'text';
  if (!(GRAPH_FORMATS as readonly string[]).includes(format))
    throw new SupervisorError('SUP_ERR_USAGE', `--format ${JSON.stringify(format)} is not a format; use one of ${GRAPH_FORMATS.join(', ')}`);
  const spec = pipelineOf(ctx, name);
  if (ctx.json) return ctx.stdout(JSON.stringify({ ...graphJson(spec), ...(flags.format !== undefined ? { format, source: renderGraph(spec, format as GraphFormat) } : {}) }));
  ctx.stdout(renderGraph(spec, format as GraphFormat));
}

// ---------------------------------------------------------------------------------------------

/**
 * Adds the inspect verbs to a command group: `list-runs`, `state`, `next-execution`, `show` to
 * `dags`/`pipelines` (kind 'pipelines'), `state` to `tasks` (kind 'tasks').
 */
export function registerInspectCommands(group: Command, ctx: CliContext, _setExit: SetExit, kind: 'pipelines' | 'tasks'): void {
  if (kind === 'tasks') {
    group
      .command('state <run-or-pipeline> <task> [date]')
      .description("a task instance's state: `tasks state RUN TASK`, or Airflow's `tasks state PIPELINE TASK DATE`")
      .action((first: string, task: string, date: string | undefined) => taskStateAction(ctx, first, task, date));
    return;
  }
  group
    .command('list-runs [pipeline]')
    .description("the pipeline's runs, newest first (Airflow's `dags list-runs -d DAG`)")
    .option('-d, --dag-id <pipeline>', 'Airflow spelling of PIPELINE')
    .option('--state <state>', `only runs in this state (${RUN_STATES.join(', ')}); repeat or comma-separate for several`, collect, [])
    .option('--limit <n>', `how many (default ${DEFAULT_LIST_LIMIT}, at most ${LIMITS.pageSize})`)
    .option('-s, --start-date <date>', 'only logical dates from this one (inclusive)')
    .option('-e, --end-date <date>', 'only logical dates up to this one (inclusive)')
    .option('-o, --output <format>', 'table (default) or json (as --json; Airflow spelling)')
    .action((pipeline: string | undefined, flags: ListRunsFlags) => listRunsAction(ctx, pipeline, flags));
  group
    .command('state <pipeline> <date>')
    .description('the state of the run for this logical date (--json: the run with its tasks)')
    .action((pipeline: string, date: string) => dagStateAction(ctx, pipeline, date));
  group
    .command('next-execution <pipeline>')
    .description("the next schedule ticks in UTC and in the pipeline's time zone (DST applied)")
    .option('-n, --num-executions <n>', `how many ticks (1–${NEXT_EXECUTIONS_MAX})`, '1')
    .option('--after <date>', 'ticks after this instant (default: now)')
    .action((pipeline: string, flags: { numExecutions: string; after?: string }) => nextExecutionAction(ctx, pipeline, flags));
  group
    .command('show <pipeline>')
    .description('the DAG: tasks, groups, trigger rules — as text, Mermaid or Graphviz DOT')
    .option('--format <format>', `${GRAPH_FORMATS.join(' | ')} (default text)`)
    .action((pipeline: string, flags: { format?: string }) => showAction(ctx, pipeline, flags));
}
