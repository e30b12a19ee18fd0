import type { Command } from 'commander';
import { checkVariableChange, variableProblem } from '../../config/variable-change';
import { SupervisorError } from '../../protocol';
import { escapeControl } from '../../shared/limits';
import { createVariableStore } from '../../store/variables';
import type { CliContext } from '../context';

/**
 * `supervisor variables set|get|list|delete` — Airflow's variables, persisted in the store.
 * Limits are LIMITS (src/shared/limits.ts), as in the API; a change that would stop the next
 * start is refused with the config's error; values are printed with control characters escaped.
 */
export function registerVariableCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  const variables = program.command('variables').description('persisted variables, used in the config as {{ var.name }}');
  const store = () => createVariableStore(ctx.openStore());
  const checkChange = (key: string, value: string | undefined): void => {
    checkVariableChange({ file: ctx.configFile(), env: ctx.env, storedVariables: store().asRecord(), key, value });
  };
  const usage = (key: string, value?: string): void => {
    const problem = variableProblem(key, value);
    if (problem) throw new SupervisorError('SUP_ERR_USAGE', problem);
  };

  variables
    .command('set <key> <value>')
    .description('set a variable (e.g. variables set kafka_servers kafka:9092); refused when the config would not load with it')
    .action((key: string, value: string) => {
      usage(key, value);
      checkChange(key, value);
      store().set(key, value);
      ctx.stdout(ctx.json ? JSON.stringify({ key, value }) : `${key} = ${escapeControl(value)}`);
    });

  variables
    .command('get <key>')
    .description('print a variable (stored value, else the config default)')
    .action((key: string) => {
      const row = store().get(key);
      if (row) return ctx.stdout(ctx.json ? JSON.stringify({ key, value: row.value, source: 'store' }) : escapeControl(row.value));
      let fallback: string | undefined;
      try {
        const defaults = ctx.loadConfig().variables;
        fallback = Object.hasOwn(defaults, key) ? defaults[key] : undefined;
      } catch {
        fallback = undefined;
      }
      if (fallback !== undefined) return ctx.stdout(ctx.json ? JSON.stringify({ key, value: fallback, source: 'config' }) : escapeControl(fallback));
      ctx.stderr(`SUP_ERR_NOT_FOUND: variable "${escapeControl(key)}" does not exist`);
      setExit(1);
    });

  variables
    .command('list')
    .description('list variables: stored ones and config defaults')
    .action(() => {
      const stored = store().list();
      let defaults: Record<string, string> = {};
      try {
        defaults = { ...ctx.loadConfig().variables };
      } catch {
        defaults = {};
      }
      const rows = new Map<string, { value: string; source: string }>();
      for (const [k, v] of Object.entries(defaults)) rows.set(k, { value: v, source: 'config' });
      for (const r of stored) rows.set(r.key, { value: r.value, source: 'store' });
      const sorted = [...rows.entries()].sort(([a], [b]) => a.localeCompare(b));
      if (ctx.json) return ctx.stdout(JSON.stringify(sorted.map(([key, r]) => ({ key, ...r }))));
      const width = Math.max(3, ...sorted.map(([k]) => k.length));
      ctx.stdout(
        ['KEY'.padEnd(width) + '  SOURCE  VALUE', ...sorted.map(([k, r]) => `${escapeControl(k).padEnd(width)}  ${r.source.padEnd(6)}  ${escapeControl(r.value)}`)].join('\n'),
      );
    });

  variables
    .command('delete <key>')
    .description('delete a stored variable (the config default, if any, applies again); refused when the config would not load without it')
    .action((key: string) => {
      if (!store().get(key)) {
        ctx.stderr(`SUP_ERR_NOT_FOUND: variable "${escapeControl(key)}" is not stored`);
        setExit(1);
        return;
      }
      checkChange(key, undefined);
      store().delete(key);
      ctx.stdout(ctx.json ? JSON.stringify({ deleted: key }) : `deleted ${key}`);
    });
}
