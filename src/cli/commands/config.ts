import type { Command } from 'commander';
import { stringify } from 'yaml';
import { redactConfig } from '../../config/redact';
import { isSupervisorError } from '../../protocol';
import { escapeControl } from '../../shared/limits';
import type { CliContext } from '../context';
import { validateForStart } from '../dry-run';

/** `supervisor config validate|show` — the `airflow dags list-import-errors` counterpart. */
export function registerConfigCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  const config = program.command('config').description('validate or show the configuration');

  config
    .command('validate [file]')
    .description('check a config file as `start` would (same validation); prints OK or every problem with file:line:column, exit 2 on error')
    .action(async (file?: string) => {
      const target = file ?? ctx.configFile();
      try {
        // validating a file must not create a store; stored variables (read-only) only refine {{ var.x }}
        const v = await validateForStart({ file: target, env: ctx.env });
        if (v.storeNote && !ctx.json) ctx.stderr(v.storeNote);
        ctx.stdout(
          ctx.json ? JSON.stringify({ ok: true, file: target, pipelines: v.pipelines, checks: v.checks }) : `OK ${target}: ${v.pipelines} pipeline(s), ${v.checks} check(s)`,
        );
      } catch (err) {
        if (!isSupervisorError(err)) throw err;
        ctx.stdout(
          ctx.json
            ? JSON.stringify({ ok: false, file: target, code: err.code, problems: err.problems.length ? err.problems : [err.where ? `${err.where}: ${err.message}` : err.message] })
            : escapeControl(err.format()),
        );
        setExit(2);
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
