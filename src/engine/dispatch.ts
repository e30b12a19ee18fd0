/**
 * Dispatch: starts queued runs, oldest first, while their pipeline has room under
 * max_active_runs and is not paused (backfill and test runs are not limited). One query counts the running runs
 * of every pipeline; the queued ones are read in pages (only of pipelines with room, plus the
 * unlimited kinds), so every queued run is reached however many there are, and a queued run
 * that must wait costs no query of its own.
 */
import type { TriggerKind } from '../protocol';
import type { RunRecord, RunStore } from '../store/runs';
import type { PipelineCatalog, PipelineSpec } from './dag';

/** Run kinds max_active_runs does not limit. */
export const UNLIMITED_KINDS: ReadonlySet<TriggerKind> = new Set(['backfill', 'test']);
/** Queued runs read per dispatch query. */
export const DISPATCH_PAGE = 500;

export interface DispatchParams {
  store: Pick<RunStore, 'countByPipeline' | 'listQueued' | 'claimRun' | 'getRun'>;
  catalog: Pick<PipelineCatalog, 'find' | 'list'>;
  now: () => number;
  /** Daemon mode: every queued run of the catalog's pipelines; otherwise only `own` runs. */
  daemon: boolean;
  /** Runs this engine created (all an in-process CLI engine may execute). */
  own: ReadonlySet<string>;
  isExecuting(runId: string): boolean;
  /** Called for each run claimed: execute it. */
  execute(spec: PipelineSpec, runId: string): void;
  /** Stops paging (shutdown). */
  aborted(): boolean;
  /** A paused pipeline's queued runs wait (backfill and test runs do not); daemon mode only. */
  isPaused?: (pipeline: string) => boolean;
  pid?: number;
  /** The owner id (`host:pid:random`) recorded on each run claimed (src/engine/recovery.ts). */
  owner?: string;
  pageSize?: number;
  /** Runs each claim fenced by the leader's epoch (src/wiring/leadership.ts); throws SUP_ERR_NOT_LEADER, which ends the pass. */
  fence?: <T>(write: () => T) => T;
}

/** One dispatch pass; throws only on a store failure. */
export function dispatchQueued(params: DispatchParams): void {
  const { store, catalog } = params;
  const pid = params.pid ?? process.pid;
  const pageSize = params.pageSize ?? DISPATCH_PAGE;
  const claimOne = (id: string): boolean => store.claimRun(id, pid, params.now(), params.owner);
  const claim = (id: string): boolean => (params.fence ? params.fence(() => claimOne(id)) : claimOne(id));
  const running = store.countByPipeline(['running']);
  const hasRoom = (spec: PipelineSpec): boolean => (running.get(spec.id) ?? 0) < spec.maxActiveRuns;
  const paused = new Set(
    params.daemon && params.isPaused
      ? catalog
          .list()
          .filter((p) => params.isPaused!(p.id))
          .map((p) => p.id)
      : [],
  );
  const start = (run: RunRecord): void => {
    const spec = catalog.find(run.pipeline);
    if (!spec) return;
    if (!UNLIMITED_KINDS.has(run.kind) && (!hasRoom(spec) || paused.has(spec.id))) return;
    if (!claim(run.id)) return;
    running.set(spec.id, (running.get(spec.id) ?? 0) + 1);
    params.execute(spec, run.id);
  };
  if (!params.daemon) {
    for (const id of [...params.own]) {
      if (params.isExecuting(id)) continue;
      const run = store.getRun(id);
      if (run?.state === 'queued') start(run);
    }
    return;
  }
  let after: { queuedAt: number; id: string } | undefined;
  for (;;) {
    const pipelines = catalog
      .list()
      .filter((p) => hasRoom(p) && !paused.has(p.id))
      .map((p) => p.id);
    const page = store.listQueued({ ...(after ? { after } : {}), limit: pageSize, pipelines, kinds: [...UNLIMITED_KINDS] });
    for (const run of page) start(run);
    if (page.length < pageSize || params.aborted()) break;
    const last = page[page.length - 1]!;
    after = { queuedAt: last.queuedAt, id: last.id };
  }
}
