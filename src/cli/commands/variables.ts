import type { Command } from 'commander';
import { SupervisorError } from '../../protocol';
import { createVariableStore, VARIABLE_KEY } from '../../store/variables';
import type { CliContext } from '../context';

/** `supervisor variables set|get|list|delete` — Airflow's variables, persisted in the store. */
export function registerVariableCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  const variables = program.command('variables').description('persisted variables, used in the config as {{ var.name }}');
  const store = () => createVariableStore(ctx.openStore());

  variables
    .command('set <key> <value>')
    .description('set a variable (e.g. variables set kafka_servers kafka:9092)')
    .action((key: string, value: string) => {
      if (!VARIABLE_KEY.test(key)) throw new SupervisorError('SUP_ERR_USAGE', `invalid variable name "${key}": use letters, digits, _ . - and start with a letter or _`);
      store().set(key, value);
      ctx.stdout(ctx.json ? JSON.stringify({ key, value }) : `${key} = ${value}`);
    });

  variables
    .command('get <key>')
    .description('print a variable (stored value, else the config default)')
    .action((key: string) => {
      const row = store().get(key);
      if (row) return ctx.stdout(ctx.json ? JSON.stringify({ key, value: row.value, source: 'store' }) : row.value);
      let fallback: string | undefined;
      try {
        fallback = ctx.loadConfig().variables[key];
      } catch {
        fallback = undefined;
      }
      if (fallback !== undefined) return ctx.stdout(ctx.json ? JSON.stringify({ key, value: fallback, source: 'config' }) : fallback);
      ctx.stderr(`SUP_ERR_NOT_FOUND: variable "${key}" does not exist`);
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
      ctx.stdout(['KEY'.padEnd(width) + '  SOURCE  VALUE', ...sorted.map(([k, r]) => `${k.padEnd(width)}  ${r.source.padEnd(6)}  ${r.value}`)].join('\n'));
    });

  variables
    .command('delete <key>')
    .description('delete a stored variable (the config default, if any, applies again)')
    .action((key: string) => {
      if (!store().delete(key)) {
        ctx.stderr(`SUP_ERR_NOT_FOUND: variable "${key}" is not stored`);
        setExit(1);
        return;
      }
      ctx.stdout(ctx.json ? JSON.stringify({ deleted: key }) : `deleted ${key}`);
    });
}
