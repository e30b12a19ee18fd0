/** `supervisor runs list | show RUN` — runs from the store. */
import type { Command } from 'commander';
import { summarizeRun } from '../../engine/engine';
import { SupervisorError, type RunState } from '../../protocol';
import { LIMITS } from '../../shared/limits';
import { createAuditStore } from '../../store/audit';
import { createRunStore } from '../../store/runs';
import type { CliContext } from '../context';
import { iso, parsePositiveInt, printRun, table } from './pipelines';

const STATES: readonly RunState[] = ['queued', 'running', 'success', 'failed', 'skipped', 'timed_out', 'cancelled'];

export function registerRunCommands(program: Command, ctx: CliContext, _setExit: (code: number) => void): void {
  const runs = program.command('runs').description('pipeline runs');
  runs
    .command('list')
    .description('recent runs, newest first')
    .option('-p, --pipeline <pipeline>', 'only this pipeline (id or alias)')
    .option('--state <state>', `only this state (${STATES.join(', ')})`)
    .option('-n, --limit <n>', 'how many', '20')
    .action((flags: { pipeline?: string; state?: string; limit: string }) => {
      if (flags.state !== undefined && !STATES.includes(flags.state as RunState)) throw new SupervisorError('SUP_ERR_USAGE', `--state must be one of ${STATES.join(', ')}`);
      const store = createRunStore(ctx.openStore());
      let pipeline = flags.pipeline;
      if (pipeline !== undefined) {
        const cfg = ctx.loadConfig().config.pipelines;
        const byAlias = Object.entries(cfg).find(([id, p]) => id === pipeline || p.aliases.includes(pipeline!));
        if (byAlias) pipeline = byAlias[0];
      }
      const rows = store.listRuns({
        ...(pipeline ? { pipeline } : {}),
        ...(flags.state ? { state: flags.state as RunState } : {}),
        limit: Math.min(parsePositiveInt(flags.limit, '--limit'), LIMITS.pageSize),
      });
      if (ctx.json) return ctx.stdout(JSON.stringify(rows));
      if (rows.length === 0) return ctx.stdout('no runs');
      ctx.stdout(
        table(
          ['RUN', 'PIPELINE', 'LOGICAL DATE', 'TRIGGER', 'STATE', 'STARTED', 'ENDED', 'REASON'],
          rows.map((r) => [r.id, r.pipeline, iso(r.logicalDate), r.kind, r.state, iso(r.startedAt), iso(r.endedAt), r.reason ?? '']),
        ),
      );
    });
  runs
    .command('show <run>')
    .description('one run with its tasks and attempts')
    .action((runId: string) => {
      const store = createRunStore(ctx.openStore());
      const run = store.getRun(runId);
      if (!run) throw new SupervisorError('SUP_ERR_NOT_FOUND', `run "${runId}" does not exist (see \`supervisor runs list\`)`);
      const summary = summarizeRun(store, run);
      const attempts = store.listAttempts(run.id);
      const audit = createAuditStore(ctx.openStore()).list({ runId: run.id });
      if (ctx.json)
        return ctx.stdout(
          JSON.stringify({ ...summary, params: run.params, attempts, audit, results: Object.fromEntries(store.listTasks(run.id).map((t) => [t.taskId, t.result])) }),
        );
      printRun(ctx, summary);
      if (Object.keys(run.params).length) ctx.stdout(`\n  conf ${JSON.stringify(run.params)}`);
      if (attempts.length) {
        ctx.stdout(
          '\n' +
            table(
              ['TASK', 'TRY', 'STATE', 'STARTED', 'ENDED', 'PID', 'EXIT', 'ERROR'],
              attempts.map((a) => [
                a.taskId,
                String(a.tryNumber),
                a.state,
                iso(a.startedAt),
                iso(a.endedAt),
                a.pid === null ? '-' : String(a.pid),
                a.exitCode === null ? '-' : String(a.exitCode),
                a.error ?? '',
              ]),
            )
              .split('\n')
              .map((l) => `  ${l}`)
              .join('\n'),
        );
      }
      if (audit.length) {
        ctx.stdout(
          '\n  audit trail\n' +
            table(
              ['WHEN', 'WHO', 'ACTION', 'TASK', 'REASON'],
              audit.map((e) => [iso(e.at), e.actor, e.action, e.taskId ?? '-', e.reason ?? '']),
            )
              .split('\n')
              .map((l) => `  ${l}`)
              .join('\n'),
        );
      }
    });
}
