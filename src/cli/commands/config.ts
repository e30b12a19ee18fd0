import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfig } from '../../config/load';
import { redactConfig } from '../../config/redact';
import { isSupervisorError } from '../../protocol';
import type { CliContext } from '../context';
import { createVariableStore } from '../../store/variables';

/** `supervisor config validate|show` — the `airflow dags list-import-errors` counterpart. */
export function registerConfigCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  const config = program.command('config').description('validate or show the configuration');

  config
    .command('validate [file]')
    .description('check a config file; prints OK or every problem with file:line:column, exit 1 on error')
    .action((file?: string) => {
      const target = file ?? ctx.configFile();
      try {
        let stored: Record<string, string> = {};
        try {
          stored = createVariableStore(ctx.openStore()).asRecord();
        } catch {
          // validating a file must not need a store; stored variables only refine {{ var.x }}
        }
        const loaded = loadConfig({ file: target, storedVariables: stored });
        const pipelines = Object.keys(loaded.config.pipelines).length;
        const checks = Object.keys(loaded.config.checks).length;
        ctx.stdout(ctx.json ? JSON.stringify({ ok: true, file: target, pipelines, checks }) : `OK ${target}: ${pipelines} pipeline(s), ${checks} check(s)`);
      } catch (err) {
        if (!isSupervisorError(err)) throw err;
        ctx.stdout(ctx.json ? JSON.stringify({ ok: false, file: target, code: err.code, problems: err.problems.length ? err.problems : [err.message] }) : err.format());
        setExit(1);
      }
    });

  config
    .command('show')
    .description('print the effective configuration (defaults applied, variables resolved, secrets redacted)')
    .action(() => {
      const loaded = ctx.loadConfig();
      const shown = redactConfig({ ...loaded.config, variables: loaded.variables });
      ctx.stdout(ctx.json ? JSON.stringify(shown, null, 2) : stringify(shown));
    });
}
