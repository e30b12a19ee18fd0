/**
 * Opening a PostgreSQL state store: the facade (database.ts), a first round trip whose failure
 * is explained (wrong password, unknown database, TLS → a config error naming the setting and
 * the host; nothing listening → the store is unavailable), then the migrations of
 * migrations-postgres.ts, recorded in `schema_migrations`.
 *
 * Replicas starting together migrate one at a time: each migration runs in its own transaction
 * under a transaction-level advisory lock, and re-reads the applied version inside it.
 */
import type { ClientConfig } from 'pg';
import type { PostgresStoreSettings } from '../../config/store';
import { SupervisorError } from '../../protocol';
import { describeTlsError } from '../../shared/tls';
import type { Migration } from '../migrations';
import { PostgresDatabase } from './database';

/** pg_advisory_xact_lock key of the migrations ("SUPM"). */
const MIGRATION_LOCK = 0x5355504d;

export function postgresClientConfig(s: PostgresStoreSettings): ClientConfig {
  return {
    host: s.host,
    port: s.port,
    database: s.database,
    user: s.user,
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.ssl ? { ssl: { ...s.ssl } } : {}),
    connectionTimeoutMillis: s.timeoutMs,
    // a statement that runs longer than the deadline is cancelled by the server too
    statement_timeout: s.timeoutMs,
    application_name: 'pipeline-supervisor',
    keepAlive: true,
  };
}

export function openPostgresStore(settings: PostgresStoreSettings, migrations: readonly Migration[], options: { breakerMs?: number } = {}): PostgresDatabase {
  const db = new PostgresDatabase({
    client: postgresClientConfig(settings),
    display: settings.display,
    host: `${settings.host}:${settings.port}`,
    timeoutMs: settings.timeoutMs,
    ...(options.breakerMs !== undefined ? { breakerMs: options.breakerMs } : {}),
  });
  try {
    try {
      db.prepare('SELECT 1').get();
    } catch (err) {
      throw explainFirstFailure(err, db, settings);
    }
    migratePostgres(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** The first call's failure as the user's problem to fix (exit 2) where it is one. */
function explainFirstFailure(err: unknown, db: PostgresDatabase, s: PostgresStoreSettings): unknown {
  const failure = db.lastFailure();
  if (!failure) return err;
  const host = `${s.host}:${s.port}`;
  const config = (key: string, message: string) => new SupervisorError('SUP_ERR_CONFIG_INVALID', `${key}: ${message}`, { where: key });
  const code = failure.code ?? '';
  if (code === '28P01')
    return config(
      'store.password',
      `PostgreSQL at ${host} refused the login of user ${JSON.stringify(s.user)}: wrong password (store.password, store.password_file or PGPASSWORD)`,
    );
  if (code.startsWith('28')) return config('store.url', `PostgreSQL at ${host} refused the login of user ${JSON.stringify(s.user)}: ${failure.message}`);
  if (code === '3D000') return config('store.url', `PostgreSQL at ${host} has no database ${JSON.stringify(s.database)}`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return config('store.url', `the host ${JSON.stringify(s.host)} is not known (${code})`);
  if (/does not support SSL/i.test(failure.message))
    return config('store.ssl', `PostgreSQL at ${host} does not accept TLS connections; remove store.ssl or enable ssl on the server`);
  const tls = describeTlsError(Object.assign(new Error(failure.message), failure.code ? { code: failure.code } : {}), host);
  if (tls) return config('store.ssl', tls);
  return err;
}

export function postgresSchemaVersion(db: PostgresDatabase): number {
  const row = db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations').get();
  return row?.v ?? 0;
}

/** Applies every migration above the store's version, each in its own transaction. Returns the versions applied. */
export function migratePostgres(db: PostgresDatabase, migrations: readonly Migration[]): number[] {
  const latest = migrations.length === 0 ? 0 : Math.max(...migrations.map((m) => m.version));
  db.transaction(() => {
    db.prepare('SELECT pg_advisory_xact_lock(?)').get(MIGRATION_LOCK);
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
  })();
  const current = postgresSchemaVersion(db);
  if (current > latest) {
    throw new SupervisorError(
      'SUP_ERR_STORE_NEWER',
      `the state store has schema version ${current} but this supervisor knows only up to ${latest}; upgrade the supervisor or use another store`,
      { where: db.name },
    );
  }
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    try {
      const done = db.transaction(() => {
        db.prepare('SELECT pg_advisory_xact_lock(?)').get(MIGRATION_LOCK);
        // another replica may have applied it while this one waited for the lock
        if (postgresSchemaVersion(db) >= m.version) return false;
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
        return true;
      })();
      if (done) applied.push(m.version);
    } catch (cause) {
      if (cause instanceof SupervisorError) throw cause;
      throw new SupervisorError('SUP_ERR_STORE_MIGRATION', `migration ${m.version} (${m.name}) failed: ${(cause as Error).message}`, { where: db.name, cause });
    }
  }
  return applied;
}
