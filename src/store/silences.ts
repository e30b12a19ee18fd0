/** SQLite implementation of silences (table `silences`, migration 1). */
import type Database from 'better-sqlite3';
import { SupervisorError, type Silence, type SilenceStore } from '../protocol';

interface Row {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
}

export function createSqliteSilenceStore(db: Database.Database): SilenceStore {
  const upsert = db.prepare(
    `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
       created_by = excluded.created_by, comment = excluded.comment`,
  );
  const list = db.prepare(`SELECT * FROM silences WHERE ends_at > ? ORDER BY starts_at, id`);
  const remove = db.prepare(`DELETE FROM silences WHERE id = ?`);

  return {
    listSilences(now) {
      return (list.all(now) as Row[]).map((r) => ({
        id: r.id,
        matchers: JSON.parse(r.matchers) as Record<string, string>,
        startsAt: r.starts_at,
        endsAt: r.ends_at,
        createdBy: r.created_by,
        comment: r.comment,
      }));
    },
    addSilence(silence: Silence) {
      const problems: string[] = [];
      if (!silence.id) problems.push('id is empty');
      if (Object.keys(silence.matchers).length === 0) problems.push('matchers are empty (a silence must match something)');
      if (!Number.isFinite(silence.startsAt) || !Number.isFinite(silence.endsAt)) problems.push('startsAt and endsAt must be epoch milliseconds');
      else if (silence.endsAt <= silence.startsAt) problems.push('endsAt must be after startsAt');
      for (const [label, value] of Object.entries(silence.matchers)) {
        if (value.startsWith('~')) {
          try {
            new RegExp(value.slice(1));
          } catch (err) {
            problems.push(`matchers.${label}: invalid regular expression: ${(err as Error).message}`);
          }
        }
      }
      if (problems.length) throw new SupervisorError('SUP_ERR_BAD_REQUEST', 'invalid silence', { where: `silence ${silence.id || '(no id)'}`, problems });
      upsert.run(silence.id, JSON.stringify(silence.matchers), silence.startsAt, silence.endsAt, silence.createdBy, silence.comment);
    },
    deleteSilence(id) {
      return remove.run(id).changes > 0;
    },
  };
}
