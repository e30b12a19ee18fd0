import type { Command } from 'commander';
import { createSqliteOutboxStore } from '../store/outbox';
import { createOperators } from '../wiring/operators';
import { registerCheckCommands } from './commands/checks';
import { registerDagCommands } from './commands/dags';
import { registerLogCommands } from './commands/logs';
import { registerOperationCommands } from './commands/operations';
import { registerPipelineCommands, type PipelineCliDeps } from './commands/pipelines';
import { registerRunCommands } from './commands/runs';
import { registerSilenceCommands } from './commands/silences';
import { registerStoreCommands } from './commands/store';
import { registerTaskCommands } from './commands/tasks';
import { registerWorkerCommand } from './commands/worker';
import type { CliContext } from './context';

/**
 * Command groups of the engine and the checks. In-process runs (`pipelines test`, `backfill`,
 * `tasks test`) get every operator, and their notifications go to the durable outbox, which the
 * daemon delivers.
 */
export function registerExtraCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  const deps: PipelineCliDeps = {
    operators: (loaded) => {
      const outbox = createSqliteOutboxStore(ctx.openStore());
      return createOperators({
        config: loaded.config,
        notify: (n) => {
          outbox.enqueue(n, loaded.config.alerts.route.sinks, Date.now());
        },
      });
    },
  };
  registerPipelineCommands(program, ctx, setExit, deps);
  registerDagCommands(program, ctx, setExit, deps);
  registerTaskCommands(program, ctx, setExit, deps);
  registerRunCommands(program, ctx, setExit);
  registerLogCommands(program, ctx, setExit);
  registerCheckCommands(program, ctx, setExit);
  registerSilenceCommands(program, ctx, setExit);
  registerStoreCommands(program, ctx);
  // pause, cancel, clear, mark, audit: added to the groups above
  registerOperationCommands(program, ctx, setExit);
  // supervisor worker: runs the tries a daemon in executor.mode workers queues
  registerWorkerCommand(program, ctx, setExit);
}
