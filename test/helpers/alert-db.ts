/** Opens a SQLite file the way the lead's store does (WAL + migrations in order), for alert tests. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/store/migrations';

export function openAlertDb(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return db;
}

/** A fresh temp directory with a `state.db` path; `cleanup()` removes it. */
export function tempDbPath(prefix = 'alerts-'): { file: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { file: join(dir, 'state.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
