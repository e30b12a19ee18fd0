/**
 * Per-pipeline operator state in the store: paused or not (who, when, why), when the store
 * first saw the pipeline and when it was last unpaused. Pause survives restarts; a pipeline's
 * config `paused: true` is only its initial value, the first time this store sees it.
 */
import type { SqliteDatabase } from './database';

export interface PipelineStateRecord {
  pipeline: string;
  paused: boolean;
  /** When paused/unpaused last (null: never changed by an operator). */
  changedAt: number | null;
  changedBy: string | null;
  reason: string | null;
  /** When this store first saw the pipeline. */
  firstSeenAt: number;
  /** The last unpause (null: never paused and unpaused). */
  unpausedAt: number | null;
}

interface Row {
  pipeline: string;
  paused: number;
  changed_at: number | null;
  changed_by: string | null;
  reason: string | null;
  first_seen_at: number;
  unpaused_at: number | null;
}

const toRecord = (r: Row): PipelineStateRecord => ({
  pipeline: r.pipeline,
  paused: r.paused === 1,
  changedAt: r.changed_at,
  changedBy: r.changed_by,
  reason: r.reason,
  firstSeenAt: r.first_seen_at,
  unpausedAt: r.unpaused_at,
});

export interface PipelineStateStore {
  /** Records the pipelines this store has not seen yet (paused when their config says so). Idempotent. */
  ensure(pipelines: ReadonlyArray<{ id: string; paused: boolean }>, now: number): void;
  get(pipeline: string): PipelineStateRecord | null;
  list(): PipelineStateRecord[];
  /** True when the pipeline is paused (a pipeline the store has not seen is not). */
  isPaused(pipeline: string): boolean;
  /** Sets the paused state; returns the record and whether it changed. */
  setPaused(pipeline: string, paused: boolean, by: string, reason: string | null, now: number): { record: PipelineStateRecord; changed: boolean };
}

export function createPipelineStateStore(db: SqliteDatabase): PipelineStateStore {
  const insert = db.prepare('INSERT INTO pipeline_state (pipeline, paused, first_seen_at) VALUES (?, ?, ?) ON CONFLICT (pipeline) DO NOTHING');
  const getOne = db.prepare<[string], Row>('SELECT * FROM pipeline_state WHERE pipeline = ?');
  const getAll = db.prepare<[], Row>('SELECT * FROM pipeline_state ORDER BY pipeline');
  const update = db.prepare(
    'UPDATE pipeline_state SET paused = ?, changed_at = ?, changed_by = ?, reason = ?, unpaused_at = CASE WHEN ? = 0 THEN ? ELSE unpaused_at END WHERE pipeline = ?',
  );
  const ensureAll = db.transaction((pipelines: ReadonlyArray<{ id: string; paused: boolean }>, now: number) => {
    for (const p of pipelines) insert.run(p.id, p.paused ? 1 : 0, now);
  });
  const setPaused = db.transaction((pipeline: string, paused: boolean, by: string, reason: string | null, now: number) => {
    insert.run(pipeline, 0, now);
    const before = toRecord(getOne.get(pipeline)!);
    if (before.paused === paused) return { record: before, changed: false };
    update.run(paused ? 1 : 0, now, by, reason, paused ? 1 : 0, now, pipeline);
    return { record: toRecord(getOne.get(pipeline)!), changed: true };
  });
  return {
    ensure: (pipelines, now) => ensureAll.immediate(pipelines, now),
    get: (pipeline) => {
      const r = getOne.get(pipeline);
      return r ? toRecord(r) : null;
    },
    list: () => getAll.all().map(toRecord),
    isPaused: (pipeline) => getOne.get(pipeline)?.paused === 1,
    setPaused: (pipeline, paused, by, reason, now) => setPaused.immediate(pipeline, paused, by, reason, now),
  };
}
