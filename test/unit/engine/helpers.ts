import { pipelineSchema } from '../../../src/config/pipelines';
import { buildPipeline, type PipelineSpec } from '../../../src/engine/dag';
import { openDatabase } from '../../../src/store/database';
import { createRunStore, type RunStore } from '../../../src/store/runs';
import type { RunEvent } from '../../../src/protocol';

export function pipelineFrom(id: string, raw: unknown): PipelineSpec {
  return buildPipeline(id, pipelineSchema.parse(raw));
}

export function memoryStore(): { store: RunStore; close: () => void; db: ReturnType<typeof openDatabase> } {
  const db = openDatabase({ file: ':memory:' });
  return { db, store: createRunStore(db), close: () => db.close() };
}

export function eventLog(): { events: RunEvent[]; emit: (e: RunEvent) => void; tasks: () => string[] } {
  const events: RunEvent[] = [];
  return {
    events,
    emit: (e) => events.push(e),
    tasks: () => events.filter((e) => e.type === 'task').map((e) => (e.type === 'task' ? `${e.taskId}:${e.state}` : '')),
  };
}
