/**
 * A run begun in its claim's transaction (planRun's first tries written with the run by
 * scheduleFirst before the commit, as a scheduling daemon does on PostgreSQL and SQLite alike,
 * src/engine/submit.ts) keeps the retry budget of
 * a run started the usual way: `retries: 0` is one try, `retries: 2` three. The begun try was
 * counted twice once, so a failing pipeline with `retries: 0` went `retrying` instead of failing.
 */
import type { Operator } from '../../../src/engine/operator';
import { executeRun, planRun, type BegunRun } from '../../../src/engine/runner';
import { makeRunId } from '../../../src/store/runs';
import { silentLogger } from '../../../src/shared/logger';
import { createFakeClock } from './fake-clock';
import { eventLog, memoryStore, pipelineFrom } from './helpers';

async function failingRun(retries: number) {
  const clock = createFakeClock();
  const { store, close } = memoryStore();
  const log = eventLog();
  let calls = 0;
  const boom: Operator = async () => {
    calls += 1;
    throw new Error(`exit 3 (call ${calls})`);
  };
  const params = { store, operators: { command: boom }, clock, logger: silentLogger, emit: log.emit, configDir: '/tmp', random: () => 0.5 };
  const p = pipelineFrom('p', { defaults: { retries, retry_delay: '1s', retry_jitter: false }, tasks: [{ id: 'boom', operator: 'command' }] });
  const id = makeRunId('p', 'cron', clock.now());
  const plan = planRun(p, id, clock.now());
  const claim = { maxActive: 1, pid: process.pid, owner: 'test-owner', now: clock.now() };
  const row = { id, pipeline: 'p', logicalDate: clock.now(), kind: 'cron' as const, firedAt: clock.now(), queuedAt: clock.now() };
  const out = store.atomically(() => store.scheduleFirst(row, { room: null, claim }, plan))();
  expect(out).toMatchObject({ outcome: 'created', claimed: true });
  const run = (out as { run: BegunRun['run'] }).run;
  const begun: BegunRun = { run, tasks: plan.tasks, started: plan.started };
  expect([...begun.started]).toEqual(['boom']);
  const done = executeRun(params, p, run.id, new AbortController().signal, { begun });
  for (let i = 0; i < 10; i++) await clock.advance(60_000);
  const ended = await done;
  const result = { state: ended.state, calls, task: store.listTasks(run.id)[0]!, attempts: store.listAttempts(run.id, 'boom').map((a) => [a.tryNumber, a.state]) };
  close();
  return result;
}

describe('a begun run keeps its retry budget', () => {
  it('retries: 0 is one try, and the run fails', async () => {
    const r = await failingRun(0);
    expect(r.state).toBe('failed');
    expect(r.calls).toBe(1);
    expect(r.task).toMatchObject({ state: 'failed', tryNumber: 1, maxTries: 1 });
    expect(r.attempts).toEqual([[1, 'failed']]);
  });

  it('retries: 2 is three tries, the first one the begun try', async () => {
    const r = await failingRun(2);
    expect(r.state).toBe('failed');
    expect(r.calls).toBe(3);
    expect(r.task).toMatchObject({ state: 'failed', tryNumber: 3, maxTries: 3 });
    expect(r.attempts).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
    ]);
  });
});
