import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StoreSettings } from '../config/store';
import { SupervisorError } from '../protocol';
import { MIGRATIONS, type Migration } from './migrations';
import { POSTGRES_MIGRATIONS } from './migrations-postgres';
import { PostgresDatabase } from './postgres/database';
import { openPostgresStore } from './postgres/open';
import type { SqlDatabase } from './sql';

/**
 * The state store's database as every store module takes it: SQLite (better-sqlite3) or
 * PostgreSQL (src/store/postgres/), behind the synchronous interface of src/store/sql.ts. (The
 * name predates PostgreSQL; it is kept for the many modules that import it.)
 */
export type SqliteDatabase = SqlDatabase;

/** A better-sqlite3 database opened by `openDatabase({ file })`. */
export type SqliteFileDatabase = Database.Database & { readonly dialect: 'sqlite' };

export interface OpenDatabaseParams {
  /** File path, or ':memory:' for tests. */
  file: string;
  migrations?: readonly Migration[];
}

export interface OpenStoreParams {
  /** From `readStoreSettings` (src/config/load.ts). */
  store: StoreSettings;
  /** SQLite migrations (tests). */
  migrations?: readonly Migration[];
  /** PostgreSQL migrations (tests). */
  postgresMigrations?: readonly Migration[];
}

/**
 * Opens the state store and brings its schema up to date, refusing a store written by a newer
 * supervisor instead of guessing. `{ file }`: the SQLite file (WAL, foreign keys, busy timeout).
 * `{ store }`: the configured backend, SQLite or PostgreSQL (src/store/postgres/open.ts).
 */
export function openDatabase(params: OpenDatabaseParams): SqliteFileDatabase;
export function openDatabase(params: OpenStoreParams): SqlDatabase;
export function openDatabase(params: OpenDatabaseParams | OpenStoreParams): SqlDatabase {
  if ('store' in params) {
    if (params.store.kind === 'postgres') return openPostgresStore(params.store, params.postgresMigrations ?? POSTGRES_MIGRATIONS);
    return openSqlite(params.store.path, params.migrations ?? MIGRATIONS);
  }
  return openSqlite(params.file, params.migrations ?? MIGRATIONS);
}

/** Whether the store answers (for /readyz): a SQLite file while open; PostgreSQL while it answers within its deadline. */
export function storeHealth(db: SqlDatabase): { ok: boolean; reason?: string } {
  if (db instanceof PostgresDatabase) return db.health();
  return db.open ? { ok: true } : { ok: false, reason: 'closed' };
}

function openSqlite(file: string, migrations: readonly Migration[]): SqliteFileDatabase {
  if (file !== ':memory:') {
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    } catch (cause) {
      throw new SupervisorError('SUP_ERR_STORE_OPEN', `cannot create the folder for the state store`, { where: file, cause });
    }
  }
  let db: Database.Database;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (cause) {
    throw new SupervisorError('SUP_ERR_STORE_OPEN', `cannot open the state store: ${(cause as Error).message}`, { where: file, cause });
  }
  try {
    migrate(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return Object.defineProperty(db, 'dialect', { value: 'sqlite', enumerable: true }) as SqliteFileDatabase;
}

/** The exclusive hold of one process on a state store; `release()` is idempotent. */
export interface StoreLock {
  /** The lock file (`<store>.lock`). */
  readonly file: string;
  release(): void;
}

/**
 * Takes the exclusive lock on a SQLite state store, before anything else of the daemon starts:
 * two daemons on one store would both deliver notifications, run checks and dispatch runs.
 * (A PostgreSQL store is shared by several replicas on purpose and takes no lock: the leader
 * lease, with its fencing epoch, decides which replica does the leader's work.)
 *
 * The lock is an OS-level one: `<store>.lock` is a small SQLite file held in SQLite's
 * exclusive locking mode (POSIX record locks), so it is released by the kernel when the holder
 * exits in any way (SIGKILL, crash, power loss of a container): a stale lock never blocks a
 * restart, and no pid is trusted to tell whether the holder still runs. The holder writes its
 * pid, host and start time into the file, and a refused process reads them from a copy of the
 * file (record locks are advisory; reading the bytes is always possible) to name the holder.
 * CLI commands (`variables set`, `pipelines trigger`, …) do not take this lock: they share the
 * store with the running daemon on purpose.
 */
export function lockStore(file: string, now: () => number = Date.now): StoreLock | null {
  if (file === ':memory:') return null;
  const lockFile = `${path.resolve(file)}.lock`;
  try {
    fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  } catch (cause) {
    throw new SupervisorError('SUP_ERR_STORE_OPEN', `cannot create the folder for the state store`, { where: file, cause });
  }
  let db: Database.Database;
  try {
    db = new Database(lockFile);
  } catch (cause) {
    throw new SupervisorError('SUP_ERR_STORE_OPEN', `cannot open the state store's lock file: ${(cause as Error).message}`, { where: lockFile, cause });
  }
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; locking_mode EXCLUSIVE keeps it until close.
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, store TEXT NOT NULL, started_at INTEGER NOT NULL)');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid, host, store, started_at) VALUES (?, ?, ?, ?)').run(process.pid, os.hostname(), path.resolve(file), now());
    db.exec('COMMIT');
  } catch (cause) {
    db.close();
    if ((cause as { code?: string }).code === 'SQLITE_BUSY' || (cause as { code?: string }).code === 'SQLITE_LOCKED') {
      const holder = readLockHolder(lockFile);
      const who = holder
        ? `process ${holder.pid}${holder.host !== os.hostname() ? ` on ${holder.host}` : ''} (since ${new Date(holder.startedAt).toISOString()})`
        : 'another process';
      throw new SupervisorError(
        'SUP_ERR_STORE_LOCKED',
        `the state store ${path.resolve(file)} is in use by ${who}; stop that supervisor first, or give this one another store.path`,
        {
          where: lockFile,
        },
      );
    }
    throw new SupervisorError('SUP_ERR_STORE_OPEN', `cannot lock the state store: ${(cause as Error).message}`, { where: lockFile, cause });
  }
  let released = false;
  return {
    file: lockFile,
    release() {
      if (released) return;
      released = true;
      try {
        db.close();
      } catch {
        /* closing releases the lock; nothing else to do */
      }
    },
  };
}

/** The holder recorded in a lock file, read from a copy of its bytes (null if unreadable). */
export function readLockHolder(lockFile: string): { pid: number; host: string; startedAt: number } | null {
  try {
    const copy = new Database(fs.readFileSync(lockFile));
    try {
      const row = copy.prepare('SELECT pid, host, started_at FROM holder LIMIT 1').get() as { pid: number; host: string; started_at: number } | undefined;
      return row ? { pid: row.pid, host: row.host, startedAt: row.started_at } : null;
    } finally {
      copy.close();
    }
  } catch {
    return null;
  }
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every migration above the file's `user_version`, each in its own transaction. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const current = schemaVersion(db);
  const latest = migrations.length === 0 ? 0 : Math.max(...migrations.map((m) => m.version));
  if (current > latest) {
    throw new SupervisorError(
      'SUP_ERR_STORE_NEWER',
      `the state store has schema version ${current} but this supervisor knows only up to ${latest}; upgrade the supervisor or use another store file`,
      { where: db.name },
    );
  }
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    const apply = db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    try {
      apply();
    } catch (cause) {
      throw new SupervisorError('SUP_ERR_STORE_MIGRATION', `migration ${m.version} (${m.name}) failed: ${(cause as Error).message}`, {
        where: db.name,
        cause,
      });
    }
    applied.push(m.version);
  }
  return applied;
}
