/**
 * `supervisor pipelines list | trigger | test | backfill` (and, through dags.ts, Airflow's
 * `dags …` verbs). In-process runs (test, backfill, trigger --local) build an engine that does
 * not schedule anything and only executes the runs it creates; a plain `trigger` queues the run
 * in the store for the running daemon to start.
 */
import path from 'node:path';
import type { SingleBar as ProgressBar } from 'cli-progress';
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load';
import { createEngine, summarizeRun, type Engine, type RunSummary } from '../../engine/engine';
import { createPipelineCatalog, type PipelineSpec } from '../../engine/dag';
import type { OperatorRegistry } from '../../engine/operator';
import { createBuiltinOperators } from '../../engine/operators';
import { SupervisorError, type Logger } from '../../protocol';
import { DateParseError, parseStrictDate } from '../../shared/dates';
import { LIMITS } from '../../shared/limits';
import { createAuditStore } from '../../store/audit';
import { createPipelineStateStore } from '../../store/pipeline-state';
import { createRunStore } from '../../store/runs';
import type { SqliteDatabase } from '../../store/database';
import { cliActor } from '../actor';
import type { CliContext } from '../context';
import { registerInspectCommands } from './inspect';

export interface PipelineCliDeps {
  /** Operators for in-process runs; default: the engine's built-ins (checks injected by the root). */
  operators?: (loaded: LoadedConfig, logger: Logger) => OperatorRegistry;
}

type SetExit = (code: number) => void;

// ---------------------------------------------------------------------------------------------
// helpers shared by pipelines, dags, tasks, runs and logs

/**
 * `2025-10-05` (UTC midnight) or an ISO 8601 date-time with a zone (`2025-10-05T13:00:00Z`),
 * strictly: `2025-02-30` or year 0000 is a usage error naming the flag, never rolled over.
 */
export function parseDate(text: string, what: string): number {
  try {
    return parseStrictDate(text, what);
  } catch (err) {
    if (err instanceof DateParseError) throw new SupervisorError('SUP_ERR_USAGE', err.message);
    throw err;
  }
}

export function parseConf(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  if (Buffer.byteLength(text) > LIMITS.confBytes) throw new SupervisorError('SUP_ERR_USAGE', `--conf is ${Buffer.byteLength(text)} bytes; at most ${LIMITS.confBytes}`);
  // nesting is bounded before JSON.parse recurses into it
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') deepest = Math.max(deepest, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  if (deepest > LIMITS.confDepth) throw new SupervisorError('SUP_ERR_USAGE', `--conf nests ${deepest} levels deep; at most ${LIMITS.confDepth}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SupervisorError('SUP_ERR_USAGE', `--conf is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new SupervisorError('SUP_ERR_USAGE', '--conf must be a JSON object, e.g. \'{"source_name": "malware-hosts"}\'');
  return value as Record<string, unknown>;
}

export function parsePositiveInt(text: string, what: string): number {
  const n = /^\s*\d{1,15}\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new SupervisorError('SUP_ERR_USAGE', `${what} must be a positive integer, got "${text}"`);
  return n;
}

export function iso(t: number | null | undefined): string {
  return t === null || t === undefined ? '-' : new Date(t).toISOString().replace('.000Z', 'Z');
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

function duration(s: { startedAt: number | null; endedAt: number | null }): string {
  if (s.startedAt === null || s.endedAt === null) return '-';
  const ms = s.endedAt - s.startedAt;
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function printRun(ctx: CliContext, run: RunSummary): void {
  if (ctx.json) return ctx.stdout(JSON.stringify(run));
  ctx.stdout(
    [
      `run ${run.runId}`,
      `  pipeline ${run.pipeline}   logical date ${iso(run.logicalDate)}   trigger ${run.kind}`,
      `  state ${run.state}${run.reason ? ` (${run.reason})` : ''}   started ${iso(run.startedAt)}   ended ${iso(run.endedAt)}   duration ${duration(run)}`,
      ...(run.tasks.length
        ? [
            '',
            table(
              ['TASK', 'STATE', 'TRY', 'DURATION', 'REASON'],
              run.tasks.map((t) => [t.taskId, t.state, `${t.tryNumber}/${t.maxTries}`, duration(t), t.reason ?? '']),
            )
              .split('\n')
              .map((l) => `  ${l}`)
              .join('\n'),
          ]
        : []),
    ].join('\n'),
  );
}

export function exitCodeOf(state: string): number {
  return state === 'success' ? 0 : state === 'queued' || state === 'running' ? 0 : 1;
}

/** An engine for in-process runs: no schedule, executes only what it creates. */
export function cliEngine(ctx: CliContext, deps: PipelineCliDeps): Engine {
  const loaded = ctx.loadConfig();
  const db = ctx.openStore();
  const operators = deps.operators ? deps.operators(loaded, ctx.logger) : createBuiltinOperators();
  return createEngine({ config: loaded, db, logger: ctx.logger, operators, schedule: false, configDir: path.dirname(loaded.file) });
}

function catalogOf(ctx: CliContext): { catalog: ReturnType<typeof createPipelineCatalog>; db: SqliteDatabase } {
  return { catalog: createPipelineCatalog(ctx.loadConfig().config), db: ctx.openStore() };
}

async function withEngine<T>(ctx: CliContext, deps: PipelineCliDeps, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = cliEngine(ctx, deps);
  await engine.start();
  const onSignal = (): void => {
    ctx.stderr('interrupted: stopping the run (it resumes under the daemon)');
    void engine.close();
  };
  process.once('SIGINT', onSignal);
  try {
    return await fn(engine);
  } finally {
    process.off('SIGINT', onSignal);
    await engine.close();
  }
}

// ---------------------------------------------------------------------------------------------
// actions (shared with the dags aliases)

export function listAction(ctx: CliContext): void {
  const { catalog, db } = catalogOf(ctx);
  const store = createRunStore(db);
  const pauses = new Map(
    createPipelineStateStore(db)
      .list()
      .map((s) => [s.pipeline, s]),
  );
  const rows = catalog.list().map((p: PipelineSpec) => {
    const last = store.listRuns({ pipeline: p.id, limit: 1 })[0];
    return {
      pipeline: p.id,
      aliases: p.aliases,
      schedule: p.schedule,
      timezone: p.timezone,
      // the store's state once an operator paused or the daemon saw it; the config's initial value before
      paused: pauses.get(p.id)?.paused ?? p.paused,
      pausedBy: pauses.get(p.id)?.changedBy ?? null,
      overlap: p.overlap,
      tasks: p.tasks.length,
      lastRun: last ? { runId: last.id, state: last.state, logicalDate: last.logicalDate } : null,
    };
  });
  if (ctx.json) return ctx.stdout(JSON.stringify(rows));
  ctx.stdout(
    table(
      ['PIPELINE', 'ALIASES', 'SCHEDULE', 'TZ', 'PAUSED', 'TASKS', 'LAST RUN'],
      rows.map((r) => [
        r.pipeline,
        r.aliases.join(',') || '-',
        r.schedule ?? '(manual)',
        r.timezone,
        String(r.paused),
        String(r.tasks),
        r.lastRun ? `${r.lastRun.state} ${iso(r.lastRun.logicalDate)}` : '-',
      ]),
    ),
  );
}

export interface TriggerFlags {
  conf?: string;
  logicalDate?: string;
  rerun?: boolean;
  local?: boolean;
  wait?: boolean;
}

export async function triggerAction(ctx: CliContext, deps: PipelineCliDeps, setExit: SetExit, pipeline: string, flags: TriggerFlags): Promise<void> {
  const conf = parseConf(flags.conf);
  const logicalDate = flags.logicalDate !== undefined ? parseDate(flags.logicalDate, '--logical-date') : undefined;
  if (flags.local) {
    await withEngine(ctx, deps, async (engine) => {
      const queued = await engine.trigger(pipeline, { conf, ...(logicalDate !== undefined ? { logicalDate } : {}), ...(flags.rerun ? { rerun: true } : {}) });
      if (!queued.created) ctx.stderr(`a run for ${iso(queued.logicalDate)} already exists (${queued.runId}, ${queued.state}); use --rerun to run it again`);
      const done = queued.created ? await engine.waitForRun(queued.runId) : queued;
      printRun(ctx, done);
      setExit(exitCodeOf(done.state));
    });
    return;
  }
  // Queue it for the daemon: the store is the queue.
  const { catalog, db } = catalogOf(ctx);
  const spec = catalog.get(pipeline);
  const store = createRunStore(db);
  const now = Date.now();
  const { run, created } = store.insertRun({
    pipeline: spec.id,
    logicalDate: logicalDate ?? now,
    kind: 'manual',
    params: conf,
    firedAt: now,
    queuedAt: now,
    rerun: flags.rerun === true,
  });
  const paused = createPipelineStateStore(db).isPaused(spec.id);
  if (created) createAuditStore(db).record({ at: now, actor: cliActor(ctx.env), action: 'trigger', pipeline: spec.id, runId: run.id, details: { kind: 'manual' } });
  if (!created) {
    ctx.stderr(`a run for ${iso(run.logicalDate)} already exists (${run.id}, ${run.state}); use --rerun to run it again`);
  } else if (!ctx.json) {
    ctx.stdout(
      paused
        ? `queued ${run.id}: ${spec.id} is paused, so the run waits until \`supervisor dags unpause ${spec.id}\``
        : `queued ${run.id}: a running supervisor daemon starts it within a second (use --local to run it in this process)`,
    );
  }
  if (flags.wait && created) {
    const engine = createEngine({ config: ctx.loadConfig(), db, logger: ctx.logger, operators: {}, schedule: false });
    // the wait polls the store on an unref'd timer (a daemon must not be held open by it): here
    // nothing else keeps the process alive, and without this it exited 0 at once, run still queued
    const keepAlive = setInterval(() => undefined, 60_000);
    let done: RunSummary;
    try {
      done = await engine.waitForRun(run.id);
    } finally {
      clearInterval(keepAlive);
      await engine.close();
    }
    printRun(ctx, done);
    setExit(exitCodeOf(done.state));
    return;
  }
  if (ctx.json) ctx.stdout(JSON.stringify(summarizeRun(store, store.getRun(run.id)!, created)));
}

export async function testAction(ctx: CliContext, deps: PipelineCliDeps, setExit: SetExit, pipeline: string, date: string, flags: { conf?: string }): Promise<void> {
  const logicalDate = parseDate(date, 'DATE');
  const conf = parseConf(flags.conf);
  await withEngine(ctx, deps, async (engine) => {
    const queued = await engine.trigger(pipeline, { logicalDate, conf, kind: 'test' });
    const done = await engine.waitForRun(queued.runId);
    printRun(ctx, done);
    setExit(exitCodeOf(done.state));
  });
}

export interface BackfillFlags {
  startDate: string;
  endDate: string;
  dryRun?: boolean;
  reprocess?: string;
  maxActive?: string;
  conf?: string;
}

export async function backfillAction(ctx: CliContext, deps: PipelineCliDeps, setExit: SetExit, pipeline: string, flags: BackfillFlags): Promise<void> {
  const startDate = parseDate(flags.startDate, '--start-date');
  const endDate = parseDate(flags.endDate, '--end-date');
  const reprocess = flags.reprocess ?? 'none';
  if (reprocess !== 'none' && reprocess !== 'failed' && reprocess !== 'all')
    throw new SupervisorError('SUP_ERR_USAGE', `--reprocess must be none, failed or all, got "${reprocess}"`);
  const maxActive = flags.maxActive !== undefined ? parsePositiveInt(flags.maxActive, '--max-active') : undefined;
  if (maxActive !== undefined && maxActive > LIMITS.backfillMaxActive)
    throw new SupervisorError('SUP_ERR_USAGE', `--max-active is at most ${LIMITS.backfillMaxActive} (as in the API), got ${maxActive}`);
  const conf = parseConf(flags.conf);
  await withEngine(ctx, deps, async (engine) => {
    const useBar = !ctx.json && !flags.dryRun && process.stderr.isTTY === true;
    const bar: ProgressBar | null = useBar
      ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- cli-progress is loaded only when a bar is drawn (CLI start-up time)
        new (require('cli-progress') as typeof import('cli-progress')).SingleBar({
          format: 'backfill [{bar}] {value}/{total} runs | {last}',
          stream: process.stderr,
          hideCursor: true,
        })
      : null;
    let barStarted = false;
    const summary = await engine.backfill(pipeline, {
      startDate,
      endDate,
      reprocess,
      conf,
      ...(flags.dryRun ? { dryRun: true } : {}),
      ...(maxActive !== undefined ? { maxActive } : {}),
      onProgress: ({ done, total, last }) => {
        const label = last ? `${iso(last.logicalDate)} ${last.state}` : '';
        if (bar) {
          if (!barStarted) {
            bar.start(total, 0, { last: '' });
            barStarted = true;
          }
          bar.update(done, { last: label });
        } else if (last && !ctx.json) {
          ctx.stderr(`backfill ${done}/${total}: ${label}`);
        }
      },
    });
    if (barStarted) bar!.stop();
    if (ctx.json) {
      ctx.stdout(JSON.stringify(summary));
    } else {
      if (summary.dryRun) {
        ctx.stdout(
          table(
            ['LOGICAL DATE', 'ACTION', 'EXISTING RUN'],
            summary.plan.map((p) => [iso(p.logicalDate), p.action, p.existing ? `${p.existing.runId} (${p.existing.state})` : '-']),
          ),
        );
      } else {
        for (const r of summary.runs.filter((x) => x.state !== 'success')) ctx.stdout(`${r.state.toUpperCase()} ${r.runId}${r.reason ? `: ${r.reason}` : ''}`);
      }
      const c = summary.counts;
      ctx.stdout(
        `${summary.dryRun ? 'dry run: ' : ''}${summary.pipeline}: ${c.total} logical date(s) from ${iso(startDate)} to ${iso(endDate)} — ${c.run} to run, ${c.rerun} to re-run, ${c.skippedExisting} already done` +
          (summary.dryRun ? '' : `; ${c.success} succeeded, ${c.failed} failed`),
      );
    }
    setExit(summary.counts.failed > 0 ? 1 : 0);
  });
}

// ---------------------------------------------------------------------------------------------

/** The backfill flags, shared by `pipelines backfill` and Airflow's `dags backfill`. */
export function withBackfillOptions(command: Command): Command {
  return command
    .requiredOption('-s, --start-date <date>', 'first logical date (inclusive)')
    .requiredOption('-e, --end-date <date>', 'last logical date (inclusive)')
    .option('--dry-run', 'print what would run')
    .option('--reprocess <policy>', 'dates that already have a run: none | failed | all', 'none')
    .option('--max-active <n>', `parallel runs (1–${LIMITS.backfillMaxActive})`)
    .option('--conf <json>', 'run parameters as a JSON object');
}

export function registerPipelineCommands(program: Command, ctx: CliContext, setExit: SetExit, deps: PipelineCliDeps = {}): void {
  const pipelines = program.command('pipelines').description('pipelines (Airflow DAGs): list, trigger, test, backfill');
  registerInspectCommands(pipelines, ctx, setExit, 'pipelines');
  pipelines
    .command('list')
    .description('list pipelines with their schedule and last run')
    .action(() => listAction(ctx));
  pipelines
    .command('trigger <pipeline>')
    .description('request a run (queued for the daemon; --local runs it here)')
    .option('--conf <json>', 'run parameters as a JSON object')
    .option('--logical-date <date>', 'logical date of the run (default: now)')
    .option('--rerun', 'run again even if a run exists for this logical date')
    .option('--local', 'run in this process and wait for the result')
    .option('--wait', 'wait for the daemon to finish the run')
    .action((pipeline: string, flags: TriggerFlags) => triggerAction(ctx, deps, setExit, pipeline, flags));
  pipelines
    .command('test <pipeline> <date>')
    .description('run the whole pipeline once in this process for DATE (recorded with trigger kind test)')
    .option('--conf <json>', 'run parameters as a JSON object')
    .action((pipeline: string, date: string, flags: { conf?: string }) => testAction(ctx, deps, setExit, pipeline, date, flags));
  withBackfillOptions(pipelines.command('backfill <pipeline>').description('run the pipeline for every schedule tick in a date range')).action(
    (pipeline: string, flags: BackfillFlags) => backfillAction(ctx, deps, setExit, pipeline, flags),
  );
}
