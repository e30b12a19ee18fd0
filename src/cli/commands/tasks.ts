/** `supervisor tasks test PIPELINE TASK DATE` — one task in-process, dependencies ignored (Airflow's `tasks test`). */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { registerInspectCommands } from './inspect';
import { cliEngine, exitCodeOf, parseConf, parseDate, printRun, type PipelineCliDeps } from './pipelines';

export function registerTaskCommands(program: Command, ctx: CliContext, setExit: (code: number) => void, deps: PipelineCliDeps = {}): void {
  const tasks = program.command('tasks').description('task instances');
  registerInspectCommands(tasks, ctx, setExit, 'tasks');
  tasks
    .command('test <pipeline> <task> <date>')
    .description('run one task for DATE in this process, without its upstream (recorded with trigger kind test)')
    .option('--conf <json>', 'run parameters as a JSON object')
    .action(async (pipeline: string, task: string, date: string, flags: { conf?: string }) => {
      const logicalDate = parseDate(date, 'DATE');
      const conf = parseConf(flags.conf);
      const engine = cliEngine(ctx, deps);
      try {
        const run = await engine.testTask(pipeline, task, logicalDate, conf);
        printRun(ctx, run);
        if (!ctx.json) {
          const logs = engine.store.getLogs(run.runId, task);
          for (const l of logs) ctx.stdout(`\n--- ${task} try ${l.tryNumber} ---\n${l.content.trimEnd()}`);
        }
        setExit(exitCodeOf(run.state));
      } finally {
        await engine.close();
      }
    });
}
