/**
 * SQLite implementation of the alert engine's state (table `alerts`, migration 1). Alert
 * instances are stored under their key `rule|labels`; notification groups share the table
 * under keys prefixed `group:` (rule names cannot contain ':').
 */
import type { SqlDatabase } from './sql';
import type { AlertGroupRecord, AlertRecord, AlertStateStore } from '../protocol';

const GROUP_PREFIX = 'group:';

export function createSqliteAlertStateStore(db: SqlDatabase): AlertStateStore {
  const upsert = db.prepare(
    `INSERT INTO alerts (key, rule, record, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET rule = excluded.rule, record = excluded.record, updated_at = excluded.updated_at`,
  );
  const remove = db.prepare(`DELETE FROM alerts WHERE key = ?`);
  const alerts = db.prepare(`SELECT record FROM alerts WHERE substr(key, 1, ${GROUP_PREFIX.length}) <> '${GROUP_PREFIX}' ORDER BY key`);
  const groups = db.prepare(`SELECT record FROM alerts WHERE substr(key, 1, ${GROUP_PREFIX.length}) = '${GROUP_PREFIX}' ORDER BY key`);

  return {
    loadAlerts() {
      return (alerts.all() as Array<{ record: string }>).map((r) => JSON.parse(r.record) as AlertRecord);
    },
    saveAlert(record) {
      if (record.key.startsWith(GROUP_PREFIX)) throw new Error(`alert key must not start with "${GROUP_PREFIX}": ${record.key}`);
      upsert.run(record.key, record.rule, JSON.stringify(record), Date.now());
    },
    deleteAlert(key) {
      remove.run(key);
    },
    loadGroups() {
      return (groups.all() as Array<{ record: string }>).map((r) => JSON.parse(r.record) as AlertGroupRecord);
    },
    saveGroup(record) {
      upsert.run(GROUP_PREFIX + record.key, record.rule, JSON.stringify(record), Date.now());
    },
    deleteGroup(key) {
      remove.run(GROUP_PREFIX + key);
    },
  };
}
