/**
 * RunStore.scheduleFirst on both backends: a run created claimed gets its first writes (task
 * instances, first tries) in the same statement (PostgreSQL) or transaction (SQLite); a run not
 * created claimed — queued behind a busy slot, no room under the overlap policy, a paused
 * pipeline, a logical date that has its run — gets none, and an existing run's rows are left
 * alone. Under the leader's fence (src/wiring/leadership.ts fenced) a refused term writes
 * nothing. On PostgreSQL the whole fenced transaction (BEGIN, SET LOCAL, fence, the statement,
 * COMMIT) is one request, and its answer is read after the commit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSupervisorError } from '../../../src/protocol';
import { openDatabase } from '../../../src/store/database';
import { createLeaseStore } from '../../../src/store/leader';
import { createPipelineStateStore } from '../../../src/store/pipeline-state';
import type { PostgresDatabase } from '../../../src/store/postgres/database';
import { createRunStore, makeRunId, type FirstWrites, type RunStore, type ScheduleRunOptions } from '../../../src/store/runs';
import type { SqlDatabase } from '../../../src/store/sql';
import { fenced } from '../../../src/wiring/leadership';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(60_000);

const T0 = Date.UTC(2026, 0, 1);

/** The first writes of a two-task chain a → b for run `runId` (as src/engine/runner.ts planRun makes them). */
function firstOf(runId: string, now: number): FirstWrites {
  return {
    tasks: [
      { runId, taskId: 'a', state: 'running', tryNumber: 1, maxTries: 2, startedAt: now, endedAt: null, nextTryAt: null, pid: null, result: null, reason: null },
      { runId, taskId: 'b', state: 'none', tryNumber: 0, maxTries: 1, startedAt: null, endedAt: null, nextTryAt: null, pid: null, result: null, reason: null },
    ],
    attempts: [{ taskId: 'a', tryNumber: 1, startedAt: now }],
  };
}

describe.each(['sqlite', 'postgres'] as const)('scheduleFirst on %s', (backend) => {
  let db: SqlDatabase;
  let store: RunStore;
  let fresh: FreshPostgres | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    if (backend === 'postgres') {
      await ensureServices(['postgres']);
      fresh = await createFreshPostgres('schedfirst');
      db = openDatabase({ store: fresh.settings });
    } else {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-schedfirst-'));
      db = openDatabase({ store: { kind: 'sqlite', path: path.join(dir, 'state.db') } });
    }
    store = createRunStore(db);
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    db?.close();
    await fresh?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const requests = (): number => (db as Partial<PostgresDatabase>).requestCount ?? 0;
  const options = (room: number | null, maxActive = 1, extra: Partial<ScheduleRunOptions> = {}): ScheduleRunOptions => ({
    room,
    claim: { maxActive, pid: 4242, owner: 'host:4242:abc', now: T0 + 5 },
    ...extra,
  });
  const schedule = (pipeline: string, logicalDate: number, opts: ScheduleRunOptions) => {
    const id = makeRunId(pipeline, 'cron', logicalDate);
    const out = store.scheduleFirst({ pipeline, logicalDate, kind: 'cron', firedAt: logicalDate + 1, queuedAt: logicalDate + 2, id }, opts, firstOf(id, T0 + 5))();
    return { id, out };
  };

  it('creates a run claimed with its task rows and first try', () => {
    const { id, out } = schedule('p1', T0, options(1));
    expect(out).toMatchObject({ outcome: 'created', claimed: true, run: { id, state: 'running', owner: 'host:4242:abc', ownerPid: 4242, startedAt: T0 + 5, rerun: false } });
    expect(store.getRun(id)).toEqual(out.outcome === 'created' ? out.run : null);
    expect(store.listTasks(id).map((t) => [t.taskId, t.state, t.tryNumber, t.maxTries, t.startedAt])).toEqual([
      ['a', 'running', 1, 2, T0 + 5],
      ['b', 'none', 0, 1, null],
    ]);
    expect(store.listAttempts(id).map((a) => [a.taskId, a.tryNumber, a.state, a.startedAt])).toEqual([['a', 1, 'running', T0 + 5]]);
  });

  it('writes no task rows beside a run created queued (no free slot), nor when the overlap room is full', () => {
    // p1 has one running run: a second one fits the room of 2 but not the one slot
    const queued = schedule('p1', T0 + 1_000, options(2));
    expect(queued.out).toMatchObject({ outcome: 'created', claimed: false, run: { state: 'queued', owner: null, startedAt: null } });
    expect(store.listTasks(queued.id)).toEqual([]);
    expect(store.listAttempts(queued.id)).toEqual([]);
    // two active now: a room of 2 is full
    const full = schedule('p1', T0 + 2_000, options(2));
    expect(full.out).toEqual({ outcome: 'no_room', active: 2 });
    expect(store.getRun(full.id)).toBeNull();
    expect(store.listTasks(full.id)).toEqual([]);
    expect(store.listAttempts(full.id)).toEqual([]);
  });

  it('creates nothing for a paused pipeline', () => {
    createPipelineStateStore(db).ensure([{ id: 'p2', paused: true }], T0);
    const { id, out } = schedule('p2', T0, options(1, 1, { skipPaused: true }));
    expect(out).toEqual({ outcome: 'paused' });
    expect(store.getRun(id)).toBeNull();
    expect(store.listTasks(id)).toEqual([]);
  });

  it("leaves the logical date's existing run and its rows alone", () => {
    const id = makeRunId('p3', 'cron', T0);
    store.insertRun({ pipeline: 'p3', logicalDate: T0, kind: 'cron', firedAt: T0, queuedAt: T0, id });
    store.upsertTask({
      runId: id,
      taskId: 'a',
      state: 'success',
      tryNumber: 1,
      maxTries: 1,
      startedAt: T0,
      endedAt: T0 + 1,
      nextTryAt: null,
      pid: null,
      result: null,
      reason: null,
    });
    const again = schedule('p3', T0, options(null, 5));
    expect(again.out).toMatchObject({ outcome: 'exists', run: { id, state: 'queued' } });
    expect(store.listTasks(id).map((t) => [t.taskId, t.state])).toEqual([['a', 'success']]);
    expect(store.listAttempts(id)).toEqual([]);
  });

  it('writes nothing when the leader fence refuses the term; a valid term writes it all, on PostgreSQL in one request', () => {
    const lease = createLeaseStore({ db, name: 'schedfirst', now: Date.now });
    const term = lease.elect('holder-a', 10_000);
    if (!term.held) throw new Error('expected to hold a fresh lease');
    const id = makeRunId('p4', 'cron', T0);
    const run = { pipeline: 'p4', logicalDate: T0, kind: 'cron' as const, firedAt: T0, queuedAt: T0, id };
    let code: string | undefined;
    try {
      fenced(db, lease, { holder: 'holder-a', epoch: term.epoch + 1 }, () => store.atomically(() => store.scheduleFirst(run, options(1), firstOf(id, T0))))();
    } catch (err) {
      code = isSupervisorError(err) ? err.code : String(err);
    }
    expect(code).toBe('SUP_ERR_NOT_LEADER');
    expect(store.getRun(id)).toBeNull();
    expect(store.listTasks(id)).toEqual([]);
    expect(store.listAttempts(id)).toEqual([]);

    const before = requests();
    const answer = fenced(db, lease, { holder: 'holder-a', epoch: term.epoch }, () => store.atomically(() => store.scheduleFirst(run, options(1), firstOf(id, T0))));
    // BEGIN, SET LOCAL, the fence, the statement and COMMIT: one request, answered before the outcome is read
    if (backend === 'postgres') expect(requests() - before).toBe(1);
    expect(answer()).toMatchObject({ outcome: 'created', claimed: true });
    if (backend === 'postgres') expect(requests() - before).toBe(1);
    expect(store.listTasks(id).map((t) => t.taskId)).toEqual(['a', 'b']);
    expect(store.listAttempts(id).map((a) => a.taskId)).toEqual(['a']);
  });
});
