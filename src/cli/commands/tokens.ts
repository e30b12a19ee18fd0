import type { Command } from 'commander';
import { SupervisorError } from '../../protocol';
import { escapeControl, LIMITS } from '../../shared/limits';
import { createTokenStore } from '../../store/tokens';
import type { CliContext } from '../context';

/** A token name: 1 to LIMITS.nameLength printable characters, not only spaces. */
export function tokenNameProblem(name: string): string | null {
  if (name.trim().length === 0) return 'a token needs a name (who or what uses it), e.g. --name grafana';
  if (name.length > LIMITS.nameLength) return `the name is ${name.length} characters long; at most ${LIMITS.nameLength}`;
  if (escapeControl(name) !== name) return 'the name contains control characters';
  return null;
}

/** `supervisor tokens create|list|revoke` — API bearer tokens; only hashes are stored. */
export function registerTokenCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  const tokens = program.command('tokens').description('API bearer tokens');

  tokens
    .command('create')
    .description('create a token and print it once')
    .requiredOption('--name <name>', 'a unique name (who or what uses it)')
    .option('--read-only', 'may only GET', false)
    .action((opts: { name: string; readOnly: boolean }) => {
      const problem = tokenNameProblem(opts.name);
      if (problem) throw new SupervisorError('SUP_ERR_USAGE', `--name: ${problem}`);
      const store = createTokenStore(ctx.openStore());
      if (store.list().some((t) => t.name === opts.name)) {
        ctx.stderr(`SUP_ERR_CONFLICT: a token named "${opts.name}" exists; revoke it first or pick another name`);
        setExit(2);
        return;
      }
      const { token, info } = store.create(opts.name, opts.readOnly);
      if (ctx.json) ctx.stdout(JSON.stringify({ name: info.name, readOnly: info.readOnly, token }));
      else {
        ctx.stdout(token);
        ctx.stderr(`created ${info.readOnly ? 'read-only ' : ''}token "${info.name}"; it is shown only now — store it safely`);
      }
    });

  tokens
    .command('list')
    .description('list tokens (names and flags, never the tokens)')
    .action(() => {
      const rows = createTokenStore(ctx.openStore()).list();
      if (ctx.json) return ctx.stdout(JSON.stringify(rows));
      ctx.stdout(
        [
          'NAME  READ-ONLY  CREATED  LAST-USED',
          ...rows.map((r) => `${r.name}  ${r.readOnly}  ${new Date(r.createdAt).toISOString()}  ${r.lastUsedAt ? new Date(r.lastUsedAt).toISOString() : '-'}`),
        ].join('\n'),
      );
    });

  tokens
    .command('revoke <name>')
    .description('delete a token')
    .action((name: string) => {
      if (!createTokenStore(ctx.openStore()).revoke(name)) {
        ctx.stderr(`SUP_ERR_NOT_FOUND: no token named "${name}"`);
        setExit(1);
        return;
      }
      ctx.stdout(`revoked ${name}`);
    });
}
