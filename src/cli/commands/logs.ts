/** `supervisor logs RUN [TASK] [--try N]` — stored task logs (capped, tail kept). */
import type { Command } from 'commander';
import { SupervisorError } from '../../protocol';
import { createRunStore } from '../../store/runs';
import type { CliContext } from '../context';
import { parsePositiveInt } from './pipelines';

export function registerLogCommands(program: Command, ctx: CliContext, _setExit: (code: number) => void): void {
  program
    .command('logs <run> [task]')
    .description('task logs of a run (every task and try, or one task)')
    .option('--try <n>', 'only this try number')
    .action((runId: string, task: string | undefined, flags: { try?: string }) => {
      const store = createRunStore(ctx.openStore());
      const run = store.getRun(runId);
      if (!run) throw new SupervisorError('SUP_ERR_NOT_FOUND', `run "${runId}" does not exist (see \`supervisor runs list\`)`);
      if (task !== undefined && !store.getTask(run.id, task)) {
        throw new SupervisorError(
          'SUP_ERR_NOT_FOUND',
          `run "${runId}" has no task "${task}" (tasks: ${store
            .listTasks(run.id)
            .map((t) => t.taskId)
            .join(', ')})`,
        );
      }
      const tryNumber = flags.try !== undefined ? parsePositiveInt(flags.try, '--try') : undefined;
      const logs = store.getLogs(run.id, task).filter((l) => tryNumber === undefined || l.tryNumber === tryNumber);
      if (ctx.json) return ctx.stdout(JSON.stringify(logs));
      if (logs.length === 0) return ctx.stdout('no logs stored for this selection');
      for (const l of logs) ctx.stdout(`--- ${l.taskId} try ${l.tryNumber}${l.truncatedBytes ? ` (${l.truncatedBytes} bytes truncated)` : ''} ---\n${l.content.trimEnd()}`);
    });
}
