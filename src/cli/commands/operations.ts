/**
 * The operations an Airflow operator does every day, on the store (the daemon need not run;
 * when it does, it sees them within its poll interval):
 *
 *   supervisor dags pause|unpause PIPELINE [--reason]          (and `pipelines pause|unpause`)
 *   supervisor runs cancel RUN [--reason] [--wait]
 *   supervisor runs mark RUN success|failed [--reason]
 *   supervisor tasks clear RUN [TASK…] [--downstream] [--upstream] [--only-failed] [--yes] [--dry-run]
 *   supervisor tasks mark RUN TASK success|failed [--reason]
 *   supervisor runs audit [RUN] [-p PIPELINE]
 *
 * Every one is recorded in the audit trail as `cli:<os user>`.
 */
import type { Command } from 'commander';
import { createPipelineCatalog } from '../../engine/dag';
import { createRunOperations, type Actor, type RunOperations } from '../../engine/operations';
import { summarizeRun, type RunSummary } from '../../engine/run-summary';
import { SupervisorError, TERMINAL_RUN_STATES } from '../../protocol';
import { systemClock } from '../../shared/clock';
import { LIMITS } from '../../shared/limits';
import { createAuditStore, type AuditEntry } from '../../store/audit';
import { createPipelineStateStore } from '../../store/pipeline-state';
import { createRunStore } from '../../store/runs';
import { cliActor } from '../actor';
import type { CliContext } from '../context';
import { iso, parsePositiveInt, printRun, table } from './pipelines';

function operationsOf(ctx: CliContext): RunOperations {
  const loaded = ctx.loadConfig();
  const db = ctx.openStore();
  return createRunOperations({
    store: createRunStore(db),
    pipelineState: createPipelineStateStore(db),
    audit: createAuditStore(db),
    catalog: createPipelineCatalog(loaded.config),
    clock: systemClock,
    logger: ctx.logger,
  });
}

function group(program: Command, name: string): Command {
  const found = program.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`command group "${name}" is not registered`);
  return found;
}

const reasonOption = ['--reason <text>', 'why (recorded in the audit trail)'] as const;

function who(ctx: CliContext, reason: string | undefined): Actor {
  if (reason !== undefined && reason.length > LIMITS.commentLength)
    throw new SupervisorError('SUP_ERR_USAGE', `--reason: ${reason.length} characters; at most ${LIMITS.commentLength}`);
  return { actor: cliActor(ctx.env), ...(reason ? { reason } : {}) };
}

function printAudit(ctx: CliContext, entries: readonly AuditEntry[]): void {
  if (entries.length === 0) return ctx.stdout('no operations recorded');
  ctx.stdout(
    table(
      ['WHEN', 'WHO', 'ACTION', 'PIPELINE', 'RUN', 'TASK', 'REASON'],
      entries.map((e) => [iso(e.at), e.actor, e.action, e.pipeline ?? '-', e.runId ?? '-', e.taskId ?? '-', e.reason ?? '']),
    ),
  );
}

export function registerOperationCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  for (const name of ['dags', 'pipelines']) {
    const g = group(program, name);
    for (const paused of [true, false]) {
      g.command(`${paused ? 'pause' : 'unpause'} <pipeline>`)
        .description(
          paused
            ? 'pause: no cron or event trigger fires, queued runs wait (manual triggers are queued until unpause); survives restarts'
            : 'unpause: triggers fire again and waiting runs start',
        )
        .option(...reasonOption)
        .action((pipeline: string, flags: { reason?: string }) => {
          const ops = operationsOf(ctx);
          const { state, changed } = paused ? ops.pause(pipeline, who(ctx, flags.reason)) : ops.unpause(pipeline, who(ctx, flags.reason));
          if (ctx.json) return ctx.stdout(JSON.stringify({ ...state, changed }));
          ctx.stdout(
            changed
              ? `${state.pipeline} ${paused ? 'paused' : 'unpaused'}`
              : `${state.pipeline} was already ${paused ? 'paused' : 'unpaused'}${state.changedBy ? ` (by ${state.changedBy} at ${iso(state.changedAt)})` : ''}`,
          );
        });
    }
  }

  const runs = group(program, 'runs');
  runs
    .command('cancel <run>')
    .description('cancel a queued or running run: its running tasks get SIGTERM, then SIGKILL after the grace; unfinished tasks end cancelled')
    .option(...reasonOption)
    .option('--wait', 'wait until the run has ended')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', '60')
    .action(async (runId: string, flags: { reason?: string; wait?: boolean; timeout: string }) => {
      const timeoutMs = parsePositiveInt(flags.timeout, '--timeout') * 1000;
      const ops = operationsOf(ctx);
      let run = await ops.cancel(runId, who(ctx, flags.reason));
      if (flags.wait && run.state === 'running') run = await waitEnded(ctx, runId, timeoutMs, setExit);
      report(ctx, run, run.state === 'running' ? 'cancel requested: the supervisor executing it stops it within a second or so' : undefined);
    });
  runs
    .command('mark <run> <state>')
    .description('mark a run success or failed (a running run is stopped first; marking success marks its unfinished tasks success)')
    .option(...reasonOption)
    .action(async (runId: string, state: string, flags: { reason?: string }) => {
      const run = await operationsOf(ctx).markRun(runId, state, who(ctx, flags.reason));
      report(ctx, run, run.state === 'running' ? `mark requested: the supervisor executing it ends it ${state}` : undefined);
    });
  runs
    .command('audit [run]')
    .description('the audit trail: who paused, cancelled, cleared, marked or triggered what, when and why (newest first)')
    .option('-p, --pipeline <pipeline>', 'only this pipeline')
    .option('-n, --limit <n>', 'how many', '50')
    .action((runId: string | undefined, flags: { pipeline?: string; limit: string }) => {
      const ops = operationsOf(ctx);
      const pipeline = flags.pipeline !== undefined ? createPipelineCatalog(ctx.loadConfig().config).get(flags.pipeline).id : undefined;
      const entries = ops.audit({
        ...(runId ? { runId } : {}),
        ...(pipeline ? { pipeline } : {}),
        limit: Math.min(parsePositiveInt(flags.limit, '--limit'), LIMITS.pageSize),
      });
      if (ctx.json) return ctx.stdout(JSON.stringify(entries));
      printAudit(ctx, entries);
    });

  const tasks = group(program, 'tasks');
  tasks
    .command('clear <run> [tasks...]')
    .description("Airflow's clear: the chosen task instances (default all) go back to queued and the run resumes; earlier tries stay in history")
    .option('--downstream', 'also clear every task downstream of the chosen ones')
    .option('--upstream', 'also clear every task upstream of the chosen ones')
    .option('--only-failed', 'only the chosen tasks that failed (failed, upstream_failed, timed_out, cancelled), before --downstream/--upstream')
    .option('-y, --yes', 'confirm re-running a succeeded ingestion (it ingests again)')
    .option('--dry-run', 'print what would be cleared; change nothing')
    .option(...reasonOption)
    .action((runId: string, names: string[], flags: { downstream?: boolean; upstream?: boolean; onlyFailed?: boolean; yes?: boolean; dryRun?: boolean; reason?: string }) => {
      const result = operationsOf(ctx).clear(
        runId,
        {
          tasks: names,
          ...(flags.downstream ? { downstream: true } : {}),
          ...(flags.upstream ? { upstream: true } : {}),
          ...(flags.onlyFailed ? { onlyFailed: true } : {}),
          ...(flags.yes ? { confirmReingest: true } : {}),
          ...(flags.dryRun ? { dryRun: true } : {}),
        },
        who(ctx, flags.reason),
      );
      if (ctx.json) return ctx.stdout(JSON.stringify(result));
      ctx.stdout(
        result.dryRun
          ? `would clear ${result.cleared.join(', ')} of ${result.run.runId}`
          : `cleared ${result.cleared.join(', ')} of ${result.run.runId}: the run is queued again and resumes when the daemon picks it up`,
      );
    });
  tasks
    .command('mark <run> <task> <state>')
    .description('mark a task of a finished or queued run success or failed; the tasks downstream are decided again by their trigger rules')
    .option(...reasonOption)
    .action((runId: string, taskId: string, state: string, flags: { reason?: string }) => {
      const run = operationsOf(ctx).markTask(runId, taskId, state, who(ctx, flags.reason));
      report(ctx, run, run.state === 'queued' ? 'the run is queued again: its downstream tasks run when the daemon picks it up' : undefined);
    });
}

function report(ctx: CliContext, run: RunSummary, note?: string): void {
  if (ctx.json) return ctx.stdout(JSON.stringify(run));
  printRun(ctx, run);
  if (note) ctx.stdout(`\n  ${note}`);
}

async function waitEnded(ctx: CliContext, runId: string, timeoutMs: number, setExit: (code: number) => void): Promise<RunSummary> {
  const store = createRunStore(ctx.openStore());
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = store.getRun(runId)!;
    if ((TERMINAL_RUN_STATES as readonly string[]).includes(run.state) || Date.now() >= deadline) {
      if (run.state === 'running') {
        ctx.stderr(`run ${runId} is still running after ${timeoutMs / 1000} s (is the daemon that executes it stuck?)`);
        setExit(1);
      }
      return summarizeRun(store, run, false);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
