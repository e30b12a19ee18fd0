/**
 * `supervisor store migrate --to postgres://user@host:port/db` — copies every table of the
 * configured SQLite store into an empty PostgreSQL store, in one transaction: either all of it
 * is there afterwards, or nothing. A target that holds any row is refused. Ids, insertion order
 * (SQLite's rowid) and the serial sequences are kept, so the store continues where it was.
 *
 * Stop the daemon first (the copy is of the file as it is when the command runs); then set
 * `store.url` in the config.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { readStoreSettings } from '../../config/load';
import { DEFAULT_STORE_TIMEOUT_MS, parsePostgresUrl, type PostgresStoreSettings } from '../../config/store';
import { SupervisorError } from '../../protocol';
import { readSecretFile } from '../../shared/secrets';
import { readTlsFiles } from '../../shared/tls';
import { openDatabase, type SqliteFileDatabase } from '../../store/database';
import { POSTGRES_MIGRATIONS } from '../../store/migrations-postgres';
import type { PostgresDatabase } from '../../store/postgres/database';
import { openPostgresStore } from '../../store/postgres/open';
import type { CliContext } from '../context';

/** Parameters per INSERT statement (PostgreSQL allows 65,535). */
const PARAMS_PER_STATEMENT = 20_000;

interface MigrateOptions {
  to: string;
  passwordFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

export function registerStoreCommands(program: Command, ctx: CliContext): void {
  const store = program.command('store').description('the state store');
  store
    .command('migrate')
    .description('copy the configured SQLite store into an empty PostgreSQL store (one transaction; stop the daemon first)')
    .requiredOption('--to <url>', 'the PostgreSQL store: postgres://user@host:port/database (no password in it)')
    .option('--password-file <file>', 'file holding the password (else PGPASSWORD)')
    .option('--ca-file <file>', 'TLS: PEM CA to verify the server with')
    .option('--cert-file <file>', 'TLS: client certificate (with --key-file)')
    .option('--key-file <file>', 'TLS: client key')
    .option('--server-name <name>', "TLS: the name on the server's certificate, when it is not the URL's host")
    .action((options: MigrateOptions) => {
      const source = readStoreSettings(ctx.configFile(), ctx.env);
      if (source.kind !== 'sqlite')
        throw new SupervisorError('SUP_ERR_USAGE', `the configured store is already PostgreSQL (${source.display}); store migrate copies a SQLite store`);
      if (!fs.existsSync(source.path)) throw new SupervisorError('SUP_ERR_USAGE', `there is no SQLite store at ${source.path} (store.path of ${ctx.configFile()})`);
      const target = targetSettings(options, ctx.env);
      const counts = migrateStore(openDatabase({ file: source.path }), target);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      if (ctx.json) ctx.stdout(JSON.stringify({ from: source.path, to: target.display, tables: counts, rows: total }));
      else {
        ctx.stdout(`copied ${source.path} → ${target.display}: ${total} row(s)`);
        for (const [table, n] of Object.entries(counts)) ctx.stdout(`  ${table.padEnd(16)} ${n}`);
        ctx.stdout(`now set store.url: ${target.display} in ${ctx.configFile()}`);
      }
    });
}

function targetSettings(o: MigrateOptions, env: Readonly<Record<string, string | undefined>>): PostgresStoreSettings {
  const base = parsePostgresUrl(o.to, '--to');
  const password = o.passwordFile !== undefined ? readSecretFile(o.passwordFile, '--password-file') : env.PGPASSWORD || undefined;
  if ((o.certFile === undefined) !== (o.keyFile === undefined)) throw new SupervisorError('SUP_ERR_USAGE', '--cert-file and --key-file go together');
  const tls = o.caFile !== undefined || o.certFile !== undefined || o.serverName !== undefined;
  return {
    ...base,
    ...(password !== undefined ? { password } : {}),
    ...(tls ? { ssl: readTlsFiles({ caFile: o.caFile, certFile: o.certFile, keyFile: o.keyFile, servername: o.serverName }, '--tls') } : {}),
    timeoutMs: Math.max(DEFAULT_STORE_TIMEOUT_MS, 60_000),
  };
}

/** Copies every table of `source` (closed afterwards) into the empty PostgreSQL store `target`. Returns rows per table. */
export function migrateStore(source: SqliteFileDatabase, target: PostgresStoreSettings): Record<string, number> {
  let pg: PostgresDatabase | undefined;
  try {
    pg = openPostgresStore(target, POSTGRES_MIGRATIONS);
    const db = pg;
    const tables = source
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
      .all()
      .map((t) => t.name);
    const pgColumns = new Map<string, string[]>();
    for (const r of db
      .prepare<[], { table_name: string; column_name: string }>(
        'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position',
      )
      .all()) {
      pgColumns.set(r.table_name, [...(pgColumns.get(r.table_name) ?? []), r.column_name]);
    }
    for (const table of tables) {
      if (!pgColumns.has(table))
        throw new SupervisorError('SUP_ERR_STORE_MIGRATION', `the PostgreSQL store has no table ${table}; is it at the same schema version?`, { where: target.display });
      const n = db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()!.n;
      if (n > 0)
        throw new SupervisorError('SUP_ERR_CONFLICT', `the PostgreSQL store is not empty (table ${table} has ${n} row(s)); store migrate copies into an empty store only`, {
          where: target.display,
        });
    }
    const counts: Record<string, number> = {};
    db.transaction(() => {
      for (const table of tables) {
        const sqliteColumns = (source.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
        const targetColumns = pgColumns.get(table)!;
        // SQLite's implicit rowid goes into the PostgreSQL twin's explicit rowid column (insertion order)
        const withRowid = targetColumns.includes('rowid') && !sqliteColumns.includes('rowid');
        const columns = [...sqliteColumns.filter((c) => targetColumns.includes(c)), ...(withRowid ? ['rowid'] : [])];
        const select = `SELECT ${sqliteColumns.filter((c) => targetColumns.includes(c)).join(', ')}${withRowid ? ', rowid' : ''} FROM ${table} ORDER BY rowid`;
        const perStatement = Math.max(1, Math.floor(PARAMS_PER_STATEMENT / columns.length));
        let batch: unknown[][] = [];
        let copied = 0;
        const flush = (): void => {
          if (batch.length === 0) return;
          const rows = batch.map((r) => `(${r.map(() => '?').join(', ')})`).join(', ');
          db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${rows}`).run(...batch.flat());
          copied += batch.length;
          batch = [];
        };
        for (const row of source.prepare(select).raw().iterate() as IterableIterator<unknown[]>) {
          batch.push(row);
          if (batch.length >= perStatement) flush();
        }
        flush();
        counts[table] = copied;
        // serial columns continue after the copied values
        for (const serial of ['id', 'rowid']) {
          if (!targetColumns.includes(serial)) continue;
          const seq = db.prepare<[string, string], { seq: string | null }>('SELECT pg_get_serial_sequence(?, ?) AS seq').get(table, serial)?.seq;
          if (seq) db.prepare(`SELECT setval(?, GREATEST((SELECT COALESCE(MAX(${serial}), 0) FROM ${table}), 1), (SELECT COUNT(*) > 0 FROM ${table}))`).get(seq);
        }
      }
    })();
    return counts;
  } finally {
    pg?.close();
    source.close();
  }
}
