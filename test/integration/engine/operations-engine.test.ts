/**
 * The executing side of cancel and mark: the engine answers an operator's request on a run it
 * is executing by stopping its real task subprocess (process group) and ending the run in the
 * requested state, with the operation on the run event.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../../../src/config/schema';
import { createEngine, type Engine } from '../../../src/engine/engine';
import { createBuiltinOperators } from '../../../src/engine/operators';
import type { RunEvent } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { openDatabase } from '../../../src/store/database';
import { pidAlive, waitFor } from '../../helpers/e2e-supervisor';

const SLEEP = path.resolve(__dirname, '../../fixtures/engine/sleep.js');

describe('cancel and mark of a run the engine executes (real subprocesses)', () => {
  let dir: string;
  let engine: Engine;
  let db: ReturnType<typeof openDatabase>;
  const events: RunEvent[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-ops-engine-'));
    db = openDatabase({ file: path.join(dir, 'state.db') });
    const pipelines = {
      slow: {
        tasks: [
          { id: 'work', operator: 'command', params: { command: [process.execPath, SLEEP, '60000'], kill_grace: '1s' } },
          { id: 'after', operator: 'command', upstream: ['work'], params: { command: ['true'] } },
        ],
      },
      flaky: { tasks: [{ id: 'fails', operator: 'command', retries: 3, retry_delay: '1h', params: { command: ['false'] } }] },
    };
    engine = createEngine({
      config: { file: path.join(dir, 'supervisor.yaml'), config: configSchema.parse({ pipelines }), variables: {} },
      db,
      logger: silentLogger,
      operators: createBuiltinOperators({ killGraceMs: 1000 }),
      pollIntervalMs: 100,
    });
    events.length = 0;
    engine.runEvents$.subscribe((e) => events.push(e));
    await engine.start();
  });
  afterEach(async () => {
    await engine.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const runningPid = (runId: string): Promise<number> =>
    waitFor('the task process to run', () => {
      const ti = engine.store.getTask(runId, 'work');
      return ti?.state === 'running' && ti.pid !== null ? ti.pid : undefined;
    });

  it('mark a running run success: the task process group is stopped, unfinished tasks end success, the run event names who', async () => {
    const run = await engine.trigger('slow');
    const pid = await runningPid(run.runId);
    const asked = await engine.operations.markRun(run.runId, 'success', { actor: 'bob', reason: 'fixed upstream by hand' });
    expect(asked.state).toBe('running'); // requested; the executing engine ends it
    const done = await engine.waitForRun(run.runId);
    expect(done.state).toBe('success');
    expect(done.tasks.map((t) => [t.taskId, t.state])).toEqual([
      ['work', 'success'],
      ['after', 'success'],
    ]);
    expect(pidAlive(pid)).toBe(false);
    expect(engine.store.listAttempts(run.runId)).toEqual([expect.objectContaining({ taskId: 'work', state: 'cancelled', error: 'marked success by bob: fixed upstream by hand' })]);
    expect(engine.store.getRun(run.runId)).toMatchObject({ requestedState: null, reason: 'marked success by bob: fixed upstream by hand' });
    expect(events.find((e) => e.type === 'run' && e.state === 'success')).toMatchObject({ audit: { actor: 'bob', action: 'mark_run' } });
  });

  it('cancel a run waiting for a retry: no further try, the task and run end cancelled', async () => {
    const run = await engine.trigger('flaky');
    await waitFor('the task to wait for its retry', () => engine.store.getTask(run.runId, 'fails')?.state === 'retrying');
    await engine.operations.cancel(run.runId, { actor: 'carol' });
    const done = await engine.waitForRun(run.runId);
    expect(done.state).toBe('cancelled');
    expect(done.tasks[0]).toMatchObject({ state: 'cancelled', tryNumber: 1, reason: 'cancelled by carol' });
    expect(engine.store.listAttempts(run.runId).map((a) => a.state)).toEqual(['failed']);
  });
});
