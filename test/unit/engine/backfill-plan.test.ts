/** Backfill: planning logical dates (reprocess, bad ranges) and running them under maxActive. */
import { configSchema } from '../../../src/config/schema';
import { createPipelineCatalog } from '../../../src/engine/dag';
import { countPlan, planBackfill, runBackfill, type BackfillSummary } from '../../../src/engine/backfill';
import type { RunSummary } from '../../../src/engine/run-summary';
import { openDatabase } from '../../../src/store/database';
import { createRunStore } from '../../../src/store/runs';
import { isSupervisorError } from '../../../src/protocol';

const H = 3_600_000;
const T0 = Date.parse('2025-10-05T00:00:00Z');

function setup(schedule: string | null = '0 * * * *') {
  const config = configSchema.parse({ pipelines: { p: { ...(schedule ? { schedule } : {}), tasks: [{ id: 'a', operator: 'command' }] } } });
  return { store: createRunStore(openDatabase({ file: ':memory:' })), spec: createPipelineCatalog(config).get('p') };
}

describe('planBackfill', () => {
  it('plans every schedule tick of the range, skipping dates that have a run unless reprocessed', () => {
    const { store, spec } = setup();
    const ok = store.insertRun({ pipeline: 'p', logicalDate: T0, kind: 'cron', firedAt: T0, queuedAt: T0 }).run;
    const failed = store.insertRun({ pipeline: 'p', logicalDate: T0 + H, kind: 'cron', firedAt: T0, queuedAt: T0 }).run;
    store.updateRun(failed.id, { state: 'failed' });
    const none = planBackfill(store, spec, { startDate: T0, endDate: T0 + 2 * H });
    expect(none.map((p) => p.action)).toEqual(['skip', 'skip', 'run']);
    expect(none[0]!.existing).toEqual({ runId: ok.id, state: 'queued' });
    expect(planBackfill(store, spec, { startDate: T0, endDate: T0 + 2 * H, reprocess: 'failed' }).map((p) => p.action)).toEqual(['skip', 'rerun', 'run']);
    expect(planBackfill(store, spec, { startDate: T0, endDate: T0 + 2 * H, reprocess: 'all' }).map((p) => p.action)).toEqual(['rerun', 'rerun', 'run']);
    expect(countPlan(none)).toEqual({ total: 3, run: 1, rerun: 0, skippedExisting: 2, success: 0, failed: 0 });
  });

  it('refuses a pipeline without a schedule, a reversed range and a range over 10000 ticks', () => {
    const usage = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        expect(isSupervisorError(err) && err.code).toBe('SUP_ERR_USAGE');
        return (err as Error).message;
      }
      throw new Error('did not throw');
    };
    expect(usage(() => planBackfill(setup(null).store, setup(null).spec, { startDate: T0, endDate: T0 }))).toMatch(/has no schedule/);
    const { store, spec } = setup('* * * * *');
    expect(usage(() => planBackfill(store, spec, { startDate: T0, endDate: T0 - 1 }))).toBe('--end-date must not be before --start-date');
    expect(usage(() => planBackfill(store, spec, { startDate: T0, endDate: T0 + 10_001 * 60_000 }))).toMatch(/more than 10000 schedule ticks/);
  });
});

describe('runBackfill', () => {
  it('runs the planned dates at most maxActive at once, counts and sorts the results', async () => {
    const plan = [0, 1, 2, 3].map((i) => ({ logicalDate: T0 + i * H, action: i === 1 ? ('skip' as const) : ('run' as const), existing: null }));
    const summary: BackfillSummary = { pipeline: 'p', dryRun: false, plan, runs: [], counts: countPlan(plan) };
    let active = 0;
    let peak = 0;
    const progress: number[] = [];
    await runBackfill(
      {
        startRun: (item) => String(item.logicalDate),
        waitForRun: async (runId) => {
          active += 1;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, Number(runId) === T0 ? 20 : 1));
          active -= 1;
          return { runId, logicalDate: Number(runId), state: Number(runId) === T0 + 3 * H ? 'failed' : 'success' } as RunSummary;
        },
        aborted: () => false,
      },
      summary,
      2,
      (p) => progress.push(p.done),
    );
    expect(peak).toBe(2);
    expect(summary.runs.map((r) => r.logicalDate)).toEqual([T0, T0 + 2 * H, T0 + 3 * H]);
    expect(summary.counts).toMatchObject({ success: 2, failed: 1 });
    expect(progress).toEqual([0, 1, 2, 3]);
  });

  it('takes no further date once aborted', async () => {
    const plan = [0, 1, 2].map((i) => ({ logicalDate: T0 + i * H, action: 'run' as const, existing: null }));
    const summary: BackfillSummary = { pipeline: 'p', dryRun: false, plan, runs: [], counts: countPlan(plan) };
    let aborted = false;
    await runBackfill(
      {
        startRun: (i) => String(i.logicalDate),
        waitForRun: (id) => ((aborted = true), Promise.resolve({ runId: id, logicalDate: Number(id), state: 'success' } as RunSummary)),
        aborted: () => aborted,
      },
      summary,
      1,
    );
    expect(summary.runs).toHaveLength(1);
  });
});
