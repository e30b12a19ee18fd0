/**
 * Issue 13 item 18: the dispatcher reaches every queued run (it read at most 1,000, and the
 * oldest beyond them never), and a queued run that has to wait costs no store query of its own
 * (it cost a `listRuns` per run per poll).
 */
import { configSchema } from '../../../src/config/schema';
import { createEngine, type Engine } from '../../../src/engine/engine';
import type { Operator } from '../../../src/engine/operator';
import { openDatabase } from '../../../src/store/database';
import { createRunStore, type RunStore } from '../../../src/store/runs';
import { silentLogger } from '../../../src/shared/logger';

const T0 = Date.parse('2025-10-05T00:00:00Z');

function setup(maxActive: number, op: Operator, pollIntervalMs: number): { engine: Engine; db: ReturnType<typeof openDatabase>; store: RunStore } {
  const db = openDatabase({ file: ':memory:' });
  const config = configSchema.parse({ pipelines: { p: { max_active_runs: maxActive, tasks: [{ id: 'a', operator: 'command' }] } } });
  const engine = createEngine({
    config: { file: '/tmp/supervisor.yaml', config, variables: {} },
    db,
    logger: silentLogger,
    operators: { command: op },
    pollIntervalMs,
    random: () => 0.5,
  });
  return { engine, db, store: createRunStore(db) };
}

/** Queued rows as another process (the CLI, the API) leaves them in the store. */
function queue(store: RunStore, n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1) {
    const { run } = store.insertRun({ pipeline: 'p', logicalDate: T0 + i * 60_000, kind: 'manual', firedAt: T0, queuedAt: T0 + i });
    ids.push(run.id);
  }
  return ids;
}

async function until(what: string, fn: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dispatch of queued runs', () => {
  it('dispatches all of 1,500 queued runs, oldest first', async () => {
    const started: string[] = [];
    const op: Operator = async (ctx) => {
      started.push(new Date(ctx.logicalDate).toISOString());
      return {};
    };
    const { engine, db, store } = setup(16, op, 50);
    const ids = queue(store, 1500);
    await engine.start();
    try {
      await until('every queued run to finish', () => store.countRuns('p', ['success']) === 1500);
      expect(store.countRuns('p', ['queued', 'running'])).toBe(0);
      expect(ids.every((id) => store.getRun(id)?.state === 'success')).toBe(true);
      // the oldest run (the 1,500th from the newest) was among the first to start
      expect(started.slice(0, 16)).toContain(new Date(T0).toISOString());
    } finally {
      await engine.close();
      db.close();
    }
  });

  it('a queued run that waits for room costs no query of its own', async () => {
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (release = r));
    const op: Operator = async (ctx) => {
      await Promise.race([blocked, new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)))]);
      return {};
    };
    const { engine, db, store } = setup(1, op, 10);
    queue(store, 1500);
    await engine.start();
    await until('the first run to start', () => store.countRuns('p', ['running']) === 1);
    // count the store calls the dispatcher makes while the pipeline is full
    const calls = { listQueued: 0, listRuns: 0, getRun: 0, countByPipeline: 0, rows: 0 };
    const s = engine.store as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of ['listQueued', 'listRuns', 'getRun', 'countByPipeline'] as const) {
      const original = s[name]!;
      s[name] = (...args: unknown[]) => {
        calls[name] += 1;
        const result = original(...args);
        if (name === 'listQueued') calls.rows += (result as unknown[]).length;
        return result;
      };
    }
    try {
      await until('ten polls', () => calls.countByPipeline >= 10, 10_000);
      const polls = calls.countByPipeline;
      // one count and at most one page per poll; nothing per queued run
      expect(calls.listQueued).toBeLessThanOrEqual(polls + 1);
      expect(calls.listRuns).toBe(0);
      expect(calls.getRun).toBe(0);
      // the full pipeline's runs are not even read
      expect(calls.rows).toBe(0);
      expect(store.countRuns('p', ['queued'])).toBe(1499);
    } finally {
      release();
      await engine.close();
      db.close();
    }
  });
});
