import Database from 'better-sqlite3';
import fs from 'node:fs';
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
