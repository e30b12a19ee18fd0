/**
 * The executor seam in `workers` mode, in one process: the runner queues each try in
 * task_queue (SQLite in memory), an in-process task worker claims and runs it, and the
 * outcome is what the operator would have given locally (result, skip, non-retryable error,
 * retries). A claim whose worker never heartbeats is lost after the timeout and retried.
 * The real-process drills (SIGKILL, cancel, backfill, PostgreSQL) are in test/e2e/task-workers.test.ts.
 */
import { SupervisorError } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { systemClock } from '../../../src/shared/clock';
import type { Operator, OperatorRegistry } from '../../../src/engine/operator';
import { createWorkerExecutor, errorFromQueue, errorToQueue } from '../../../src/engine/executor';
import { executeRun } from '../../../src/engine/runner';
import { createTaskWorker } from '../../../src/engine/worker';
import { createTaskQueueStore } from '../../../src/store/task-queue';
import { TaskProcessError } from '../../../src/engine/operators';
import { eventLog, memoryStore, pipelineFrom } from './helpers';

function setup(operators: OperatorRegistry, heartbeatTimeoutMs = 2_000) {
  const { store, close, db } = memoryStore();
  const log = eventLog();
  const executor = createWorkerExecutor({ db, runs: store, clock: systemClock, heartbeatTimeoutMs, pollIntervalMs: 20 });
  const params = { store, operators: {}, clock: systemClock, logger: silentLogger, emit: log.emit, configDir: '/tmp', random: () => 0.5, executor };
  // the daemon's registry only needs the names; the worker has the implementations
  for (const name of Object.keys(operators)) (params.operators as Record<string, Operator>)[name] = () => Promise.reject(new Error('ran in the daemon'));
  const worker = createTaskWorker({
    db,
    runs: store,
    operators,
    name: 'w1',
    concurrency: 2,
    clock: systemClock,
    logger: silentLogger,
    statusDir: '/tmp',
    pollIntervalMs: 20,
    heartbeatIntervalMs: 50,
  });
  const start = (pipelineId: string) => {
    const { run } = store.insertRun({ pipeline: pipelineId, logicalDate: Date.now(), kind: 'manual', firedAt: Date.now(), queuedAt: Date.now() });
    expect(store.claimRun(run.id, process.pid, Date.now())).toBe(true);
    return run.id;
  };
  return { store, db, params, worker, start, queue: createTaskQueueStore(db), close: async () => (await worker.stop(), close()) };
}

describe('task workers (executor.mode workers, in one process)', () => {
  it('runs every try on the worker with the same outcomes as local execution', async () => {
    let flakyCalls = 0;
    const t = setup({
      command: async (ctx) => {
        ctx.log(`hello from ${ctx.taskId} try ${ctx.tryNumber}`);
        if (ctx.taskId === 'flaky' && ++flakyCalls < 2) throw new TaskProcessError('the process exited with code 3', 3, true);
        if (ctx.taskId === 'bad') throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'param "command" is required', { where: 'pipelines.p.tasks.bad.params', retryable: false });
        if (ctx.taskId === 'skip') return { skipped: 'nothing to do' };
        return { result: { task: ctx.taskId, upstream: ctx.upstream.map((u) => u.taskId) }, exitCode: 0 };
      },
    });
    await t.worker.start();
    const p = pipelineFrom('p', {
      tasks: [
        { id: 'a', operator: 'command' },
        { id: 'flaky', operator: 'command', upstream: ['a'], retries: 2, retry_delay: '10ms' },
        { id: 'skip', operator: 'command' },
        { id: 'bad', operator: 'command', retries: 3 },
      ],
    });
    const run = await executeRun(t.params, p, t.start('p'), new AbortController().signal);
    expect(run.state).toBe('failed');
    const tasks = Object.fromEntries(t.store.listTasks(run.id).map((x) => [x.taskId, x]));
    expect(tasks.a).toMatchObject({ state: 'success', tryNumber: 1, result: { task: 'a', upstream: [] } });
    expect(tasks.flaky).toMatchObject({ state: 'success', tryNumber: 2, result: { task: 'flaky' } });
    // the upstream results travel to the worker (every finished task of the run, as locally)
    expect((tasks.flaky!.result as { upstream: string[] }).upstream).toContain('a');
    expect(tasks.skip).toMatchObject({ state: 'skipped', reason: 'nothing to do' });
    // not retryable: one try, the message with its `where`, as describeError gives it locally
    expect(tasks.bad).toMatchObject({ state: 'failed', tryNumber: 1, reason: 'param "command" is required (at pipelines.p.tasks.bad.params)' });
    const attempts = t.store.listAttempts(run.id).filter((a) => a.taskId === 'flaky');
    expect(attempts.map((a) => [a.state, a.exitCode, a.error])).toEqual([
      ['failed', 3, 'the process exited with code 3'],
      ['success', 0, null],
    ]);
    const log = t.store.getLogs(run.id, 'flaky').find((l) => l.tryNumber === 2)!.content;
    expect(log).toContain('[worker w1] claimed try 2 of flaky');
    expect(log).toContain('hello from flaky try 2');
    expect(log).toContain('[supervisor] try 2 ran on worker w1');
    expect(t.queue.counts()).toMatchObject({ done: 3, failed: 2, queued: 0, claimed: 0 });
    await t.close();
  }, 30_000);

  it('a claim that never heartbeats is lost after the timeout: the try fails with SUP_ERR_WORKER_LOST and is retried', async () => {
    const t = setup({ command: async () => ({ result: 'ok' }) }, 300);
    const p = pipelineFrom('p', { tasks: [{ id: 'a', operator: 'command', retries: 1, retry_delay: '10ms' }] });
    const running = executeRun(t.params, p, t.start('p'), new AbortController().signal);
    // a "worker" that claims the first try and dies at once
    let ghost = null;
    for (let i = 0; i < 200 && !ghost; i++) {
      ghost = t.queue.claim('ghost', Date.now());
      if (!ghost) await new Promise((r) => setTimeout(r, 10));
    }
    expect(ghost).not.toBeNull();
    await t.worker.start();
    const run = await running;
    expect(run.state).toBe('success');
    const attempts = t.store.listAttempts(run.id);
    expect(attempts[0]!.state).toBe('failed');
    expect(attempts[0]!.error).toMatch(/^worker ghost stopped heartbeating at \d{4}-/);
    expect(attempts[1]!.state).toBe('success');
    expect(t.queue.get(ghost?.id ?? '')?.state).toBe('lost');
    await t.close();
  }, 30_000);

  it('errors round-trip through the queue with their code, retryability, exit code and result', () => {
    const e = errorFromQueue(errorToQueue(Object.assign(new TaskProcessError('exit 2', 2, false), { result: { rows: 1 } })));
    expect(e).toBeInstanceOf(SupervisorError);
    expect(e).toMatchObject({ code: 'SUP_ERR_TASK_FAILED', retryable: false, message: 'exit 2', exitCode: 2, result: { rows: 1 } });
    const plain = errorFromQueue(errorToQueue(new Error('boom')));
    expect(plain).not.toBeInstanceOf(SupervisorError);
    expect(plain.message).toBe('boom');
  });
});
