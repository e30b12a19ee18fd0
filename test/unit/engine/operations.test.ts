/**
 * The operations' rules on a real (in-memory) store: which tasks a clear selects, what needs a
 * confirmation, what is refused and that a refusal changes nothing, how a queued, an orphaned and
 * a running run are cancelled or marked, and that every operation is audited.
 */
import { createRunOperations, type RunOperations } from '../../../src/engine/operations';
import type { PipelineCatalog, PipelineSpec } from '../../../src/engine/dag';
import type { RunEvent, TaskState } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { createAuditStore } from '../../../src/store/audit';
import { createPipelineStateStore } from '../../../src/store/pipeline-state';
import type { RunStore } from '../../../src/store/runs';
import { memoryStore, pipelineFrom } from './helpers';

const cmd = { command: ['true'] };
const spec = pipelineFrom('p', {
  paused: true,
  tasks: [
    { id: 'extract', operator: 'command', params: cmd },
    { id: 'ingest', operator: 'ingestion', upstream: ['extract'], retries: 2, params: {} },
    { id: 'q1', operator: 'command', group: 'quality', upstream: ['ingest'], params: cmd },
    { id: 'q2', operator: 'command', group: 'quality', upstream: ['ingest'], params: cmd },
    { id: 'report', operator: 'command', upstream: ['quality'], params: cmd },
    { id: 'on_failure', operator: 'command', upstream: ['quality'], trigger_rule: 'one_failed', params: cmd },
  ],
});

function catalogOf(...specs: PipelineSpec[]): Pick<PipelineCatalog, 'get' | 'find' | 'list'> {
  return {
    list: () => specs,
    find: (id) => specs.find((s) => s.id === id) ?? null,
    get: (id) => {
      const s = specs.find((x) => x.id === id);
      if (!s) throw Object.assign(new Error(`no pipeline "${id}"`), { code: 'SUP_ERR_NOT_FOUND' });
      return s;
    },
  };
}

describe('run operations', () => {
  let store: RunStore;
  let close: () => void;
  let ops: RunOperations;
  let events: RunEvent[];
  let audit: ReturnType<typeof createAuditStore>;
  let alive: Set<number>;
  let now = 1_000_000;
  const who = { actor: 'alice', reason: 'testing' };

  beforeEach(() => {
    const m = memoryStore();
    store = m.store;
    close = m.close;
    events = [];
    alive = new Set();
    audit = createAuditStore(m.db);
    ops = createRunOperations({
      store,
      pipelineState: createPipelineStateStore(m.db),
      audit,
      catalog: catalogOf(spec),
      clock: { now: () => now, sleep: () => Promise.resolve() },
      logger: silentLogger,
      emit: (e) => events.push(e),
      isAlive: (pid) => alive.has(pid),
    });
  });
  afterEach(() => close());

  /** A finished run whose tasks ended in these states (each with one try). */
  function finishedRun(states: Record<string, TaskState>, runState: 'failed' | 'success' = 'failed'): string {
    now += 1000;
    const { run } = store.insertRun({ pipeline: 'p', logicalDate: now, kind: 'manual', firedAt: now, queuedAt: now });
    for (const t of spec.tasks) {
      const state = states[t.id] ?? 'success';
      const tries = state === 'upstream_failed' || state === 'skipped' ? 0 : 1;
      store.upsertTask({
        runId: run.id,
        taskId: t.id,
        state,
        tryNumber: tries,
        maxTries: t.retry.retries + 1,
        startedAt: now,
        endedAt: now,
        nextTryAt: null,
        pid: null,
        result: null,
        reason: null,
      });
    }
    store.updateRun(run.id, { state: runState, endedAt: now, startedAt: now });
    return run.id;
  }
  const statesOf = (runId: string) => Object.fromEntries(store.listTasks(runId).map((t) => [t.taskId, t.state]));

  it('the config paused value is only the initial state: the store has it, and unpause changes it once', () => {
    expect(ops.isPaused('p')).toBe(true);
    expect(ops.unpause('p', who).changed).toBe(true);
    expect(ops.unpause('p', who).changed).toBe(false);
    expect(ops.isPaused('p')).toBe(false);
    expect(audit.list().map((e) => e.action)).toEqual(['unpause']);
  });

  it('clear --only-failed --downstream selects the failed tasks and everything downstream of them', () => {
    const id = finishedRun({ q1: 'failed', report: 'upstream_failed' });
    const res = ops.clear(id, { onlyFailed: true, downstream: true }, who);
    expect(res.cleared).toEqual(['q1', 'report', 'on_failure']);
    expect(statesOf(id)).toMatchObject({ extract: 'success', ingest: 'success', q1: 'queued', q2: 'success', report: 'queued', on_failure: 'queued' });
    expect(store.getRun(id)).toMatchObject({ state: 'queued', endedAt: null });
    // the cleared task keeps its try count and gets a full retry budget on top
    expect(store.getTask(id, 'q1')).toMatchObject({ tryNumber: 1, maxTries: 2 });
    expect(events.at(-1)).toMatchObject({ type: 'run', state: 'queued', audit: { actor: 'alice', action: 'clear', reason: 'testing' } });
    expect(audit.list({ runId: id })[0]).toMatchObject({ action: 'clear', details: { tasks: ['q1', 'report', 'on_failure'], onlyFailed: true, downstream: true } });
  });

  it('a group name selects its tasks; --upstream adds their dependencies; a succeeded ingestion needs confirming', () => {
    const id = finishedRun({}, 'success');
    expect(() => ops.clear(id, { tasks: ['quality'], upstream: true }, who)).toThrow(/clearing ingest \(succeeded\) runs the ingestion again .*--yes/);
    expect(store.getRun(id)!.state).toBe('success'); // refused: nothing changed
    expect(audit.list()).toHaveLength(0);
    expect(ops.clear(id, { tasks: ['quality'], upstream: true, dryRun: true }, who)).toMatchObject({ cleared: ['extract', 'ingest', 'q1', 'q2'], dryRun: true });
    expect(store.getRun(id)!.state).toBe('success');
    const done = ops.clear(id, { tasks: ['quality'], upstream: true, confirmReingest: true }, who);
    expect(done.cleared).toEqual(['extract', 'ingest', 'q1', 'q2']);
    expect(store.getTask(id, 'ingest')).toMatchObject({ state: 'queued', maxTries: 1 + 3 });
  });

  it('refuses to clear unknown tasks, a running run, or nothing at all — naming what is wrong', () => {
    const id = finishedRun({}, 'success');
    expect(() => ops.clear(id, { tasks: ['nope'] }, who)).toThrow(/no task or group "nope" \(tasks: extract, ingest/);
    expect(() => ops.clear(id, { onlyFailed: true }, who)).toThrow(/nothing to clear .*none of the chosen tasks failed/);
    now += 1;
    const { run } = store.insertRun({ pipeline: 'p', logicalDate: now, kind: 'manual', firedAt: now, queuedAt: now });
    store.claimRun(run.id, 4242, now);
    expect(() => ops.clear(run.id, {}, who)).toThrow(/is running; clear tasks of a finished run/);
    expect(() => ops.clear('missing', {}, who)).toThrow(/no run "missing"/);
  });

  it('cancel: a queued run ends at once, an orphaned running one too, a live owner gets a request; a finished run is refused', async () => {
    const q = store.insertRun({ pipeline: 'p', logicalDate: 1, kind: 'manual', firedAt: now, queuedAt: now }).run;
    expect((await ops.cancel(q.id, who)).state).toBe('cancelled');
    expect(events.at(-1)).toMatchObject({ runId: q.id, state: 'cancelled', audit: { action: 'cancel', actor: 'alice' } });

    const orphan = store.insertRun({ pipeline: 'p', logicalDate: 2, kind: 'manual', firedAt: now, queuedAt: now }).run;
    store.claimRun(orphan.id, 999_999, now); // not alive
    store.upsertTask({
      runId: orphan.id,
      taskId: 'extract',
      state: 'running',
      tryNumber: 1,
      maxTries: 1,
      startedAt: now,
      endedAt: null,
      nextTryAt: null,
      pid: null,
      result: null,
      reason: null,
    });
    store.startAttempt({ runId: orphan.id, taskId: 'extract', tryNumber: 1, startedAt: now });
    expect((await ops.cancel(orphan.id, who)).state).toBe('cancelled');
    expect(store.getTask(orphan.id, 'extract')!.state).toBe('cancelled');
    expect(store.listAttempts(orphan.id)[0]).toMatchObject({ state: 'cancelled', error: 'cancelled by alice: testing' });

    const live = store.insertRun({ pipeline: 'p', logicalDate: 3, kind: 'manual', firedAt: now, queuedAt: now }).run;
    store.claimRun(live.id, 4242, now);
    alive.add(4242);
    const requested = await ops.cancel(live.id, who);
    expect(requested.state).toBe('running');
    expect(store.getRun(live.id)).toMatchObject({ requestedState: 'cancelled', requestedBy: 'alice' });
    expect(store.listRequested(4242).map((r) => r.id)).toEqual([live.id]);

    await expect(ops.cancel(q.id, who)).rejects.toThrow(/already ended \(cancelled\)/);
  });

  it('mark: a run success marks its unfinished tasks success; a task mark re-decides the downstream and requeues the run', async () => {
    const a = finishedRun({ q1: 'failed', report: 'upstream_failed' });
    await expect(ops.markRun(a, 'done', who)).rejects.toThrow(/"done" is not a state a run or task can be marked/);
    expect((await ops.markRun(a, 'success', who)).state).toBe('success');
    expect(Object.values(statesOf(a)).every((s) => s === 'success')).toBe(true);
    await expect(ops.markRun(a, 'success', who)).rejects.toThrow(/already success/);

    const b = finishedRun({ q1: 'failed', report: 'upstream_failed' });
    const after = ops.markTask(b, 'q1', 'success', who);
    expect(after.state).toBe('queued');
    expect(statesOf(b)).toMatchObject({ q1: 'success', report: 'queued', on_failure: 'success' });
    expect(store.listAttempts(b)).toHaveLength(0); // marking is not a try

    // marking the last task of a finished run settles the run's state without requeueing it
    const c = finishedRun({ on_failure: 'failed' });
    expect(ops.markTask(c, 'on_failure', 'success', who).state).toBe('success');
    expect(() => ops.markTask(c, 'nope', 'success', who)).toThrow(/has no task "nope"/);
  });
});
