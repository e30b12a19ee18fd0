import os from 'node:os';
import type { Command } from 'commander';
import { isSupervisorError, SupervisorError, type Silence } from '../../protocol';
import { escapeControl, LIMITS } from '../../shared/limits';
import { buildSilence, CLI_SILENCE_FIELDS, createSqliteSilenceStore } from '../../store/silences';
import type { CliContext } from '../context';

/** `--matcher alertname=data_stale` / `--matcher check=~gold_.*` → `{ alertname: 'data_stale', check: '~gold_.*' }`. */
export function parseMatcherFlags(flags: readonly string[]): Record<string, string> {
  const matchers: Record<string, string> = {};
  const problems: string[] = [];
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) {
      problems.push(`--matcher ${JSON.stringify(escapeControl(flag.slice(0, 80)))}: write label=value or label=~regex`);
      continue;
    }
    const label = flag.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(matchers, label)) problems.push(`--matcher ${escapeControl(label.slice(0, 80))}: given twice`);
    matchers[label] = flag.slice(eq + 1);
  }
  if (problems.length) throw new SupervisorError('SUP_ERR_USAGE', 'invalid silence', { problems });
  return matchers;
}

function defaultCreatedBy(): string {
  try {
    return `cli:${os.userInfo().username}`.slice(0, LIMITS.nameLength);
  } catch {
    return 'cli';
  }
}

function stateOf(s: Silence, now: number): 'active' | 'pending' | 'expired' {
  return s.endsAt <= now ? 'expired' : s.startsAt > now ? 'pending' : 'active';
}

function matchersText(m: Record<string, string>): string {
  return Object.entries(m)
    .map(([k, v]) => (v.startsWith('~') ? `${k}=~${v.slice(1)}` : `${k}=${v}`))
    .join(',');
}

/**
 * `supervisor silences list|create|expire` — work on the store directly, so they work while the
 * daemon is down or busy (the daemon picks changes up within seconds). The same validation as
 * `POST /api/v1/silences` (buildSilence).
 */
export function registerSilenceCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  void setExit;
  const silences = program.command('silences').description('mute alerts whose labels match, until a silence expires');
  const store = () => createSqliteSilenceStore(ctx.openStore());

  silences
    .command('list')
    .description('list active silences (--all: expired ones too)')
    .option('--all', 'include expired silences', false)
    .option('--json', 'machine-readable output')
    .action((opts: { all: boolean; json?: boolean }) => {
      const now = Date.now();
      const rows = store().listSilences(now, { all: opts.all });
      if (ctx.json || opts.json) return ctx.stdout(JSON.stringify(rows.map((s) => ({ ...s, state: stateOf(s, now) }))));
      if (rows.length === 0) return ctx.stdout(opts.all ? 'no silences' : 'no active silences');
      const lines = rows.map((s) =>
        [s.id, stateOf(s, now), new Date(s.endsAt).toISOString(), escapeControl(matchersText(s.matchers)), escapeControl(s.createdBy), escapeControl(s.comment)].join('  '),
      );
      ctx.stdout(['ID  STATE  ENDS  MATCHERS  CREATED-BY  COMMENT', ...lines].join('\n'));
    });

  silences
    .command('create')
    .description('create a silence, e.g. silences create --matcher alertname=data_stale --matcher check=~gold_.* --duration 2h --comment "backfill"')
    .option('--matcher <label=value>', 'label=value (exact) or label=~regex (RE2 syntax, whole value); repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--duration <duration>', 'how long from now, e.g. 30m, 2h, 1d')
    .option('--ends-at <date>', 'end as an ISO 8601 date or date-time with a zone, e.g. 2025-10-05T18:00:00Z')
    .requiredOption('--comment <text>', 'why the alerts are silenced')
    .option('--created-by <name>', 'who creates it (default cli:$USER)')
    .option('--json', 'machine-readable output')
    .action((opts: { matcher: string[]; duration?: string; endsAt?: string; comment: string; createdBy?: string; json?: boolean }) => {
      let silence: Silence;
      try {
        silence = buildSilence(
          { matchers: parseMatcherFlags(opts.matcher), duration: opts.duration, endsAt: opts.endsAt, comment: opts.comment, createdBy: opts.createdBy ?? defaultCreatedBy() },
          { now: Date.now(), fields: CLI_SILENCE_FIELDS },
        );
      } catch (err) {
        if (isSupervisorError(err) && err.code === 'SUP_ERR_BAD_REQUEST') throw new SupervisorError('SUP_ERR_USAGE', 'invalid silence', { problems: err.problems });
        throw err;
      }
      store().addSilence(silence);
      if (ctx.json || opts.json) return ctx.stdout(JSON.stringify(silence));
      ctx.stdout(silence.id);
      ctx.stderr(`silence ${silence.id} created: ${escapeControl(matchersText(silence.matchers))} until ${new Date(silence.endsAt).toISOString()}`);
    });

  silences
    .command('expire <id>')
    .description('end a silence now (it stays listed with --all)')
    .option('--json', 'machine-readable output')
    .action((id: string, opts: { json?: boolean }) => {
      if (!store().expireSilence(id, Date.now())) {
        throw new SupervisorError('SUP_ERR_NOT_FOUND', `no active silence "${escapeControl(id.slice(0, LIMITS.nameLength))}" (see supervisor silences list)`);
      }
      ctx.stdout(ctx.json || opts.json ? JSON.stringify({ expired: id }) : `expired ${id}`);
    });
}
