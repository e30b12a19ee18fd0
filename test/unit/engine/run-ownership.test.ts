/**
 * Run ownership in the engine (one process, an SQLite store in memory, `executor.mode workers`):
 *
 * - a run executing here that another process owns now (a new leader recovered it and claimed
 *   it, adopting its try) is abandoned: no cancel request to the worker, no write to the run or
 *   its task, the run leaves this engine;
 * - the leader roles are started again after a failed start (the store did not answer the crash
 *   recovery) while the replica still leads.
 */
import path from 'node:path';
import { BehaviorSubject } from 'rxjs';
import { configSchema } from '../../../src/config/schema';
import { createEngine } from '../../../src/engine/engine';
import { createWorkerExecutor } from '../../../src/engine/executor';
import type { Operator } from '../../../src/engine/operator';
import { systemClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { createTaskQueueStore } from '../../../src/store/task-queue';
import { createLeaderRoles } from '../../../src/wiring/leader-roles';
import { memoryStore } from './helpers';

const until = async (what: string, fn: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('run ownership in the engine', () => {
  it('abandons a run another process owns now: no cancel to the worker, no write, the try goes on for its new owner', async () => {
    const { db, store, close } = memoryStore();
    const queue = createTaskQueueStore(db);
    const executor = createWorkerExecutor({ db, runs: store, clock: systemClock, heartbeatTimeoutMs: 60_000, pollIntervalMs: 10 });
    const never: Operator = () => Promise.reject(new Error('ran in the daemon'));
    const engine = createEngine({
      config: { file: path.join('/tmp', 'supervisor.yaml'), config: configSchema.parse({ pipelines: { p: { tasks: [{ id: 't', operator: 'command' }] } } }), variables: {} },
      db,
      logger: silentLogger,
      operators: { command: never },
      pollIntervalMs: 20,
      statusDir: '/tmp/sup-run-ownership-status',
      executor,
      owner: { id: 'here:1:aaaa' },
    });
    try {
      await engine.start();
      const { runId } = await engine.trigger('p');
      await until('the try to be queued', () => queue.findTry(runId, 't', 1) !== null);
      const row = queue.claim('w1', Date.now())!;
      expect(store.getRun(runId)).toMatchObject({ state: 'running', owner: 'here:1:aaaa' });
      expect(engine.activeRuns()).toEqual([runId]);

      // another leader recovers the run (re-queued, owner released) and claims it
      expect(store.transitionRun(runId, ['running'], { state: 'queued', ownerPid: null }, 'here:1:aaaa')).toBe(true);
      expect(store.claimRun(runId, 2, Date.now(), 'there:2:bbbb')).toBe(true);
      await until('the run to leave this engine', () => engine.activeRuns().length === 0);

      // nothing written by the abandoning engine: the worker still has its try, uncancelled
      expect(queue.get(row.id)).toMatchObject({ state: 'claimed', claimedBy: 'w1', cancelRequested: null });
      expect(store.getRun(runId)).toMatchObject({ state: 'running', owner: 'there:2:bbbb' });
      expect(store.getTask(runId, 't')).toMatchObject({ state: 'running', tryNumber: 1 });
      expect(store.listAttempts(runId, 't').map((a) => a.state)).toEqual(['running']);
      expect(queue.findTry(runId, 't', 2)).toBeNull();
    } finally {
      await engine.stop();
      close();
    }
  });

  it('starts the leader roles again after a failed start while still leading', async () => {
    const leader$ = new BehaviorSubject<{ leader: boolean; epoch: number | null }>({ leader: true, epoch: 1 });
    let calls = 0;
    const engine = {
      startScheduling: () => (++calls === 1 ? Promise.reject(new Error('the store does not answer')) : Promise.resolve()),
      stopScheduling: jest.fn(),
    };
    const roles = createLeaderRoles({
      leadership: { leader$, shared: true },
      engine,
      alerts: { setRole: () => Promise.resolve() },
      logger: silentLogger,
      catchupWindowMs: 60_000,
      retryMs: 20,
    });
    await roles.start();
    await until('a second start of the roles', () => calls === 2, 2_000);
    await roles.settled();
    expect(engine.stopScheduling).toHaveBeenCalledTimes(1);
    // not leading any more when the retry is due: no third start
    leader$.next({ leader: false, epoch: null });
    await roles.settled();
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toBe(2);
    await roles.stop();
  });
});
