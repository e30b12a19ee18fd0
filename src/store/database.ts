import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SupervisorError } from '../protocol';
import { MIGRATIONS, type Migration } from './migrations';

export type SqliteDatabase = Database.Database;

export interface OpenDatabaseParams {
  /** File path, or ':memory:' for tests. */
  file: string;
  migrations?: readonly Migration[];
}

/**
 * Opens the SQLite state store (WAL, foreign keys, busy timeout) and brings its schema up to
 * date. Refuses a file written by a newer supervisor instead of guessing.
 */
export function openDatabase({ file, migrations = MIGRATIONS }: OpenDatabaseParams): SqliteDatabase {
  if (file !== ':memory:') {
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    } catch (cause) {
      throw new SupervisorError('SUP_ERR_STORE_OPEN', `cannot create the folder for the state store`, { where: file, cause });
    }
  }
  let db: SqliteDatabase;
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
  return db;
}

/** The exclusive hold of one process on a state store; `release()` is idempotent. */
export interface StoreLock {
  /** The lock file (`<store>.lock`). */
  readonly file: string;
  release(): void;
}

/**
 * Takes the exclusive lock on a state store, before anything else of the daemon starts: two
 * daemons on one store would both deliver notifications, run checks and dispatch runs.
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
  let db: SqliteDatabase;
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

export function schemaVersion(db: SqliteDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every migration above the file's `user_version`, each in its own transaction. */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[] = MIGRATIONS): number[] {
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
