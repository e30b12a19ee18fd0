/** waitForRun: resolves on a final state (event or store), rejects on a missing run or an abort. */
import { Subject } from 'rxjs';
import { waitForRun } from '../../../src/engine/wait-for-run';
import { openDatabase } from '../../../src/store/database';
import { createRunStore } from '../../../src/store/runs';
import type { RunEvent } from '../../../src/protocol';

const T0 = Date.parse('2025-10-05T00:00:00Z');

function setup() {
  const store = createRunStore(openDatabase({ file: ':memory:' }));
  const run = store.insertRun({ pipeline: 'p', logicalDate: T0, kind: 'manual', firedAt: T0, queuedAt: T0 }).run;
  return { store, run, events: new Subject<RunEvent>() };
}

describe('waitForRun', () => {
  it('resolves at once for a run already final', async () => {
    const { store, run, events } = setup();
    store.updateRun(run.id, { state: 'success', endedAt: T0 });
    await expect(waitForRun(store, events, run.id)).resolves.toMatchObject({ runId: run.id, state: 'success' });
    expect(events.observed).toBe(false);
  });

  it('resolves on the run event of a final state', async () => {
    const { store, run, events } = setup();
    const wait = waitForRun(store, events, run.id);
    store.updateRun(run.id, { state: 'failed', endedAt: T0 });
    events.next({ type: 'run', runId: run.id, pipeline: 'p', logicalDate: T0, trigger: 'manual', state: 'failed', at: T0 });
    await expect(wait).resolves.toMatchObject({ state: 'failed' });
    expect(events.observed).toBe(false);
  });

  it('sees a run finished by another process through the store', async () => {
    const { store, run, events } = setup();
    const wait = waitForRun(store, events, run.id);
    setTimeout(() => store.updateRun(run.id, { state: 'success', endedAt: T0 }), 50);
    await expect(wait).resolves.toMatchObject({ state: 'success' });
  });

  it('rejects SUP_ERR_NOT_FOUND for a run that does not exist', async () => {
    const { store, events } = setup();
    await expect(waitForRun(store, events, 'nope')).rejects.toMatchObject({ code: 'SUP_ERR_NOT_FOUND', message: 'run "nope" does not exist' });
  });

  it('rejects with the abort reason and stops listening', async () => {
    const { store, run, events } = setup();
    const ac = new AbortController();
    const wait = waitForRun(store, events, run.id, ac.signal);
    ac.abort(new Error('gone'));
    await expect(wait).rejects.toThrow('gone');
    expect(events.observed).toBe(false);
  });
});
