/** dispatchQueued: which queued runs one pass starts, under max_active_runs, in pages. */
import { configSchema } from '../../../src/config/schema';
import { createPipelineCatalog, type PipelineSpec } from '../../../src/engine/dag';
import { dispatchQueued } from '../../../src/engine/dispatch';
import { openDatabase } from '../../../src/store/database';
import { createRunStore, type RunStore } from '../../../src/store/runs';
import type { TriggerKind } from '../../../src/protocol';

const T0 = Date.parse('2025-10-05T00:00:00Z');

function setup(pipelines: Record<string, number>): { store: RunStore; catalog: ReturnType<typeof createPipelineCatalog> } {
  const config = configSchema.parse({
    pipelines: Object.fromEntries(Object.entries(pipelines).map(([id, max]) => [id, { max_active_runs: max, tasks: [{ id: 'a', operator: 'command' }] }])),
  });
  return { store: createRunStore(openDatabase({ file: ':memory:' })), catalog: createPipelineCatalog(config) };
}

function queue(store: RunStore, pipeline: string, n: number, kind: TriggerKind = 'manual'): string[] {
  return Array.from(
    { length: n },
    (_, i) => store.insertRun({ pipeline, logicalDate: T0 + i * 60_000 + (kind === 'backfill' ? 1 : 0), kind, firedAt: T0, queuedAt: T0 + i }).run.id,
  );
}

function pass(store: RunStore, catalog: ReturnType<typeof createPipelineCatalog>, extra: { daemon?: boolean; own?: Set<string>; pageSize?: number } = {}): string[] {
  const started: string[] = [];
  dispatchQueued({
    store,
    catalog,
    now: () => T0,
    daemon: extra.daemon ?? true,
    own: extra.own ?? new Set(),
    isExecuting: () => false,
    execute: (_spec: PipelineSpec, runId: string) => started.push(runId),
    aborted: () => false,
    ...(extra.pageSize ? { pageSize: extra.pageSize } : {}),
  });
  return started;
}

describe('dispatchQueued', () => {
  it('starts the oldest queued runs up to max_active_runs per pipeline and claims them', () => {
    const { store, catalog } = setup({ p: 2, q: 1 });
    const p = queue(store, 'p', 3);
    const q = queue(store, 'q', 2);
    expect(pass(store, catalog).sort()).toEqual([p[0], p[1], q[0]].sort());
    expect(store.getRun(p[0]!)!.state).toBe('running');
    expect(store.getRun(p[2]!)!.state).toBe('queued');
    // the running ones count: nothing more has room
    expect(pass(store, catalog)).toEqual([]);
  });

  it('does not limit backfill runs', () => {
    const { store, catalog } = setup({ p: 1 });
    const ids = queue(store, 'p', 3, 'backfill');
    expect(pass(store, catalog)).toEqual(ids);
  });

  it('reaches every queued run across pages', () => {
    const { store, catalog } = setup({ p: 64 });
    const ids = queue(store, 'p', 7);
    expect(pass(store, catalog, { pageSize: 2 })).toEqual(ids);
  });

  it('outside daemon mode starts only the runs it owns', () => {
    const { store, catalog } = setup({ p: 4 });
    const ids = queue(store, 'p', 3);
    expect(pass(store, catalog, { daemon: false, own: new Set([ids[1]!]) })).toEqual([ids[1]]);
  });

  it('ignores queued runs of pipelines not in the catalog', () => {
    const { store, catalog } = setup({ p: 4 });
    queue(store, 'gone', 2);
    expect(pass(store, catalog)).toEqual([]);
  });
});
