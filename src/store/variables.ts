import type { SqliteDatabase } from './database';

/** Airflow-style variables: persisted key/value strings, referenced in config as {{ var.key }}. */
export interface VariableRow {
  key: string;
  value: string;
  updatedAt: number;
}

export const VARIABLE_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function createVariableStore(db: SqliteDatabase) {
  const upsert = db.prepare(
    'INSERT INTO variables(key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  );
  const selectOne = db.prepare<[string], { key: string; value: string; updated_at: number }>('SELECT key, value, updated_at FROM variables WHERE key = ?');
  const selectAll = db.prepare<[], { key: string; value: string; updated_at: number }>('SELECT key, value, updated_at FROM variables ORDER BY key');
  const remove = db.prepare('DELETE FROM variables WHERE key = ?');
  const row = (r: { key: string; value: string; updated_at: number }): VariableRow => ({ key: r.key, value: r.value, updatedAt: r.updated_at });
  return {
    set(key: string, value: string, now = Date.now()): void {
      upsert.run(key, value, now);
    },
    get(key: string): VariableRow | undefined {
      const r = selectOne.get(key);
      return r ? row(r) : undefined;
    },
    list(): VariableRow[] {
      return selectAll.all().map(row);
    },
    delete(key: string): boolean {
      return remove.run(key).changes > 0;
    },
    asRecord(): Record<string, string> {
      return Object.fromEntries(selectAll.all().map((r) => [r.key, r.value]));
    },
  };
}

export type VariableStore = ReturnType<typeof createVariableStore>;
