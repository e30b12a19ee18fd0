/** submitTrigger: a trigger becomes a queued, skipped or deduplicated run, or nothing under the overlap policy. */
import { configSchema } from '../../../src/config/schema';
import { createPipelineCatalog } from '../../../src/engine/dag';
import { overlapRoom, submitTrigger, type SubmitParams } from '../../../src/engine/submit';
import { openDatabase } from '../../../src/store/database';
import { createRunStore } from '../../../src/store/runs';
import type { Clock, RunEvent, Trigger } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';

const T0 = Date.parse('2025-10-05T00:00:00Z');

function setup(overlap: 'skip' | 'buffer_one' | 'queue' = 'skip') {
  const config = configSchema.parse({ pipelines: { p: { max_active_runs: 1, overlap, tasks: [{ id: 'a', operator: 'command' }] } } });
  const store = createRunStore(openDatabase({ file: ':memory:' }));
  const events: RunEvent[] = [];
  const skipped: string[] = [];
  const created: string[] = [];
  let dispatched = 0;
  const params: SubmitParams = {
    store,
    catalog: createPipelineCatalog(config),
    clock: { now: () => T0 + 5 } as Clock,
    logger: silentLogger,
    emit: (e) => events.push(e),
    skippedTick: (p, r) => skipped.push(`${p}:${r}`),
    onCreated: (id) => created.push(id),
    dispatch: () => {
      dispatched += 1;
    },
  };
  return { store, params, events, skipped, created, dispatched: () => dispatched };
}

const cron = (logicalDate: number, extra: Partial<Trigger> = {}): Trigger => ({ pipeline: 'p', logicalDate, kind: 'cron', params: { a: 1 }, firedAt: T0, ...extra });

describe('submitTrigger', () => {
  it('queues a new run, remembers it, emits queued and dispatches', () => {
    const s = setup();
    const summary = submitTrigger(s.params, cron(T0))!;
    expect(summary).toMatchObject({ pipeline: 'p', logicalDate: T0, kind: 'cron', state: 'queued', created: true, queuedAt: T0 + 5 });
    expect(s.created).toEqual([summary.runId]);
    expect(s.events).toEqual([{ type: 'run', runId: summary.runId, pipeline: 'p', logicalDate: T0, trigger: 'cron', state: 'queued', at: T0 + 5, firedAt: T0 }]);
    expect(s.dispatched()).toBe(1);
    expect(s.store.getRun(summary.runId)!.params).toEqual({ a: 1 });
  });

  it('answers the existing run of a logical date (not created) and queues nothing', () => {
    const s = setup();
    const first = submitTrigger(s.params, cron(T0))!;
    const again = submitTrigger(s.params, { ...cron(T0), kind: 'manual' }, { bypassOverlap: true })!;
    expect(again).toMatchObject({ runId: first.runId, created: false });
    expect(s.created).toHaveLength(1);
  });

  it('skips an automatic tick while the pipeline has no room under its overlap policy', () => {
    const s = setup('skip');
    submitTrigger(s.params, cron(T0));
    expect(submitTrigger(s.params, cron(T0 + 60_000))).toBeNull();
    expect(s.skipped).toEqual(['p:overlap']);
    // a manual trigger bypasses the policy
    expect(submitTrigger(s.params, cron(T0 + 60_000, { kind: 'manual' }), { bypassOverlap: true })!.created).toBe(true);
  });

  it('records a trigger with a skip reason as a skipped, ended run', () => {
    const s = setup();
    const summary = submitTrigger(s.params, cron(T0, { skipReason: 'gate: Kafka is unhealthy' }))!;
    expect(summary).toMatchObject({ state: 'skipped', reason: 'gate: Kafka is unhealthy', created: true, endedAt: T0 + 5 });
    expect(s.events[0]).toMatchObject({ state: 'skipped', reason: 'gate: Kafka is unhealthy' });
    expect(s.dispatched()).toBe(0);
  });

  it('throws on an unknown pipeline', () => {
    const s = setup();
    expect(() => submitTrigger(s.params, { ...cron(T0), pipeline: 'nope' })).toThrow();
  });

  it('overlapRoom: skip = max_active_runs, buffer_one = one more, queue = unbounded', () => {
    expect(overlapRoom({ overlap: 'skip', maxActiveRuns: 2 })).toBe(2);
    expect(overlapRoom({ overlap: 'buffer_one', maxActiveRuns: 2 })).toBe(3);
    expect(overlapRoom({ overlap: 'queue', maxActiveRuns: 2 })).toBe(1000);
  });
});
