/**
 * Airflow's verbs, for people who know them: `supervisor dags list | trigger | test |
 * backfill | list-import-errors`, accepting `domain_ingestion_dag` / `monitoring_dag` and the
 * seed's flags (`--start-date`, `--end-date`, `--conf`, `--exec-date`).
 */
import type { Command } from 'commander';
import { isSupervisorError } from '../../protocol';
import type { CliContext } from '../context';
import { registerInspectCommands } from './inspect';
import { backfillAction, listAction, testAction, triggerAction, withBackfillOptions, type BackfillFlags, type PipelineCliDeps } from './pipelines';

export function registerDagCommands(program: Command, ctx: CliContext, setExit: (code: number) => void, deps: PipelineCliDeps = {}): void {
  const dags = program.command('dags').description('Airflow-compatible aliases of `pipelines`');
  registerInspectCommands(dags, ctx, setExit, 'pipelines');
  dags
    .command('list')
    .description('list pipelines (DAGs)')
    .action(() => listAction(ctx));
  dags
    .command('trigger <dag>')
    .description('request a run (queued for the daemon; --local runs it here)')
    .option('--conf <json>', 'run parameters as a JSON object')
    .option('--logical-date <date>', 'logical date of the run (default: now)')
    .option('--exec-date <date>', 'Airflow 1 name of --logical-date')
    .option('--rerun', 'run again even if a run exists for this logical date')
    .option('--local', 'run in this process and wait for the result')
    .option('--wait', 'wait for the daemon to finish the run')
    .action((dag: string, flags: { conf?: string; logicalDate?: string; execDate?: string; rerun?: boolean; local?: boolean; wait?: boolean }) => {
      const logicalDate = flags.logicalDate ?? flags.execDate;
      return triggerAction(ctx, deps, setExit, dag, { ...flags, ...(logicalDate !== undefined ? { logicalDate } : {}) });
    });
  dags
    .command('test <dag> <date>')
    .description('run the DAG once in this process for DATE')
    .option('--conf <json>', 'run parameters as a JSON object')
    .action((dag: string, date: string, flags: { conf?: string }) => testAction(ctx, deps, setExit, dag, date, flags));
  withBackfillOptions(dags.command('backfill <dag>').description('run the DAG for every schedule tick between --start-date and --end-date')).action(
    (dag: string, flags: BackfillFlags) => backfillAction(ctx, deps, setExit, dag, flags),
  );
  dags
    .command('list-import-errors')
    .description('validate the pipelines in the configuration; print every problem')
    .action(() => {
      try {
        ctx.loadConfig();
      } catch (err) {
        if (!isSupervisorError(err)) throw err;
        if (ctx.json) ctx.stdout(JSON.stringify({ file: err.where ?? null, errors: [err.message, ...err.problems] }));
        else ctx.stdout(err.format());
        setExit(2); // a configuration error, as for `config validate` and `start`
        return;
      }
      ctx.stdout(ctx.json ? JSON.stringify({ errors: [] }) : 'No data found: the configuration has no import errors');
    });
}
