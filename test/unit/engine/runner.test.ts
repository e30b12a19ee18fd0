import { SupervisorError } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import type { Operator, OperatorRegistry } from '../../../src/engine/operator';
import { AbortReason, executeRun } from '../../../src/engine/runner';
import type { TaskExecutor } from '../../../src/engine/executor';
import { createFakeClock, type FakeClock } from './fake-clock';
import { eventLog, memoryStore, pipelineFrom } from './helpers';

const ok: Operator = async () => ({ result: { ok: true } });
const fail: Operator = async () => {
  throw new Error('boom');
};

function setup(operators: OperatorRegistry, clock: FakeClock = createFakeClock()) {
  const { store, close } = memoryStore();
  const log = eventLog();
  const params = { store, operators, clock, logger: silentLogger, emit: log.emit, configDir: '/tmp', random: () => 0.5 };
  const start = (pipelineId: string, logicalDate = clock.now()) => {
    const { run } = store.insertRun({ pipeline: pipelineId, logicalDate, kind: 'manual', firedAt: clock.now(), queuedAt: clock.now() });
    expect(store.claimRun(run.id, process.pid, clock.now())).toBe(true);
    return run.id;
  };
  return { store, close, log, params, start, clock };
}

describe('runner', () => {
  it('runs tasks in dependency order and records results', async () => {
    const order: string[] = [];
    const op: Operator = async (ctx) => {
      order.push(ctx.taskId);
      ctx.log(`hello from ${ctx.taskId}`);
      return { result: { task: ctx.taskId, saw: ctx.upstream.map((u) => u.taskId) } };
    };
    const t = setup({ command: op });
    const p = pipelineFrom('p', {
      tasks: [
        { id: 'a', operator: 'command' },
        { id: 'b', operator: 'command', upstream: ['a'] },
        { id: 'c', operator: 'command', upstream: ['b'] },
      ],
    });
    const run = await executeRun(t.params, p, t.start('p'), new AbortController().signal);
    expect(run.state).toBe('success');
    expect(order).toEqual(['a', 'b', 'c']);
    const tasks = t.store.listTasks(run.id);
    expect(tasks.map((x) => [x.taskId, x.state, x.tryNumber])).toEqual([
      ['a', 'success', 1],
      ['b', 'success', 1],
      ['c', 'success', 1],
    ]);
    expect(tasks[2]!.result).toEqual({ task: 'c', saw: ['a', 'b'] });
    expect(t.store.getLogs(run.id, 'b')[0]!.content).toContain('hello from b');
    expect(t.log.events.filter((e) => e.type === 'run').map((e) => e.state)).toEqual(['running', 'success']);
    t.close();
  });

  it('retries with exponential backoff up to the max delay, then fails and marks downstream upstream_failed', async () => {
    let calls = 0;
    const flaky: Operator = async () => {
      calls += 1;
      throw new Error(`failure ${calls}`);
    };
    const t = setup({ command: flaky, notify: ok });
    const p = pipelineFrom('p', {
      defaults: { retries: 3, retry_delay: '10s', retry_backoff: 3, max_retry_delay: '60s', retry_jitter: false },
      tasks: [
        { id: 'a', operator: 'command' },
        { id: 'b', operator: 'notify', upstream: ['a'] },
      ],
    });
    const done = executeRun(t.params, p, t.start('p'), new AbortController().signal);
    await t.clock.flush();
    expect(calls).toBe(1);
    await t.clock.advance(9_999);
    expect(calls).toBe(1);
    await t.clock.advance(1);
    expect(calls).toBe(2); // after 10 s
    await t.clock.advance(30_000);
    expect(calls).toBe(3); // after 30 s more (10 × 3)
    await t.clock.advance(59_999);
    expect(calls).toBe(3); // 90 s capped at 60 s
    await t.clock.advance(1);
    const run = await done;
    expect(calls).toBe(4);
    expect(run.state).toBe('failed');
    const [a, b] = t.store.listTasks(run.id);
    expect(a).toMatchObject({ state: 'failed', tryNumber: 4, maxTries: 4, reason: 'failure 4' });
    expect(b).toMatchObject({ state: 'upstream_failed', tryNumber: 0 });
    expect(t.store.listAttempts(run.id, 'a').map((x) => x.state)).toEqual(['failed', 'failed', 'failed', 'failed']);
    expect(t.log.tasks()).toEqual(['a:running', 'a:retrying', 'a:running', 'a:retrying', 'a:running', 'a:retrying', 'a:running', 'a:failed', 'b:upstream_failed']);
    t.close();
  });

  it('does not retry an error marked not retryable', async () => {
    let calls = 0;
    const usage: Operator = async () => {
      calls += 1;
      throw new SupervisorError('SUP_ERR_USAGE', 'unknown source "x"');
    };
    const t = setup({ ingestion: usage });
    const p = pipelineFrom('p', { defaults: { retries: 5, retry_delay: '1s' }, tasks: [{ id: 'a', operator: 'ingestion' }] });
    const run = await executeRun(t.params, p, t.start('p'), new AbortController().signal);
    expect(run.state).toBe('failed');
    expect(calls).toBe(1);
    expect(t.store.getTask(run.id, 'a')!.reason).toContain('unknown source "x"');
    t.close();
  });

  it('aborts a task at its execution timeout and retries it', async () => {
    let calls = 0;
    const slow: Operator = (ctx) =>
      new Promise((resolve, reject) => {
        calls += 1;
        if (calls === 2) return resolve({ result: 'second try fast' });
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
      });
    const t = setup({ command: slow });
    const p = pipelineFrom('p', {
      tasks: [{ id: 'a', operator: 'command', execution_timeout: '5s', retries: 1, retry_delay: '1s', retry_jitter: false }],
    });
    const done = executeRun(t.params, p, t.start('p'), new AbortController().signal);
    await t.clock.advance(5_000);
    expect(t.store.getTask(t.store.listRuns()[0]!.id, 'a')!.state).toBe('retrying');
    await t.clock.advance(1_000);
    const run = await done;
    expect(run.state).toBe('success');
    const attempts = t.store.listAttempts(run.id, 'a');
    expect(attempts.map((a) => a.state)).toEqual(['timed_out', 'success']);
    expect(attempts[0]!.error).toMatch(/execution timeout of 5000 ms/);
    t.close();
  });

  it('an operator ignoring the abort is abandoned after the grace', async () => {
    const deaf: Operator = () => new Promise(() => undefined);
    const t = setup({ command: deaf });
    t.params = { ...t.params, abortGraceMs: 2_000 } as typeof t.params;
    const p = pipelineFrom('p', { tasks: [{ id: 'a', operator: 'command', execution_timeout: '5s' }] });
    const done = executeRun(t.params, p, t.start('p'), new AbortController().signal);
    await t.clock.advance(7_000);
    const run = await done;
    expect(run.state).toBe('failed');
    expect(t.store.getTask(run.id, 'a')!.state).toBe('timed_out');
    t.close();
  });

  it('ends the run timed_out at the run timeout, skipping what never started', async () => {
    const hang: Operator = (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)));
    const t = setup({ command: hang, notify: ok });
    const p = pipelineFrom('p', {
      run_timeout: '1m',
      tasks: [
        { id: 'a', operator: 'command', retries: 3 },
        { id: 'b', operator: 'notify', upstream: ['a'] },
      ],
    });
    const done = executeRun(t.params, p, t.start('p'), new AbortController().signal);
    await t.clock.advance(60_000);
    const run = await done;
    expect(run.state).toBe('timed_out');
    expect(run.reason).toMatch(/run timeout/);
    expect(t.store.listTasks(run.id).map((x) => [x.taskId, x.state])).toEqual([
      ['a', 'timed_out'],
      ['b', 'skipped'],
    ]);
    t.close();
  });

  it('runs the monitoring shape: groups, all_done collector, one_failed alert', async () => {
    const calls: string[] = [];
    const check =
      (failing: boolean): Operator =>
      async (ctx) => {
        calls.push(ctx.taskId);
        if (failing && ctx.taskId === 'check_spark') throw new Error('spark down');
        return { result: 'ok' };
      };
    const shape = {
      tasks: [
        { id: 'check_kafka', group: 'infra', operator: 'kafka_health' },
        { id: 'check_spark', group: 'infra', operator: 'spark_job' },
        { id: 'check_bronze', group: 'quality', operator: 'data_freshness' },
        { id: 'collect_metrics', operator: 'collect_metrics', upstream: ['infra', 'quality'], trigger_rule: 'all_done' },
        { id: 'alert_on_failure', operator: 'alert', upstream: ['infra', 'quality'], trigger_rule: 'one_failed' },
      ],
    };
    for (const failing of [false, true]) {
      const op = check(failing);
      const t = setup({ kafka_health: op, spark_job: op, data_freshness: op, collect_metrics: op, alert: op });
      const run = await executeRun(t.params, pipelineFrom('m', shape), t.start('m'), new AbortController().signal);
      const states = Object.fromEntries(t.store.listTasks(run.id).map((x) => [x.taskId, x.state]));
      if (!failing) {
        expect(run.state).toBe('success');
        expect(states).toMatchObject({ collect_metrics: 'success', alert_on_failure: 'skipped' });
      } else {
        expect(run.state).toBe('failed');
        expect(states).toMatchObject({ check_spark: 'failed', collect_metrics: 'success', alert_on_failure: 'success' });
      }
      t.close();
    }
  });

  it('on shutdown queues the run again and a second execution resumes it without re-running finished tasks', async () => {
    const calls: string[] = [];
    let release: (() => void) | null = null;
    const op: Operator = (ctx) =>
      new Promise((resolve, reject) => {
        calls.push(`${ctx.taskId}#${ctx.tryNumber}`);
        if (ctx.taskId === 'b' && ctx.tryNumber === 1) {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
          release = () => undefined;
          return;
        }
        resolve({});
      });
    const t = setup({ command: op });
    const p = pipelineFrom('p', {
      tasks: [
        { id: 'a', operator: 'command' },
        { id: 'b', operator: 'command', upstream: ['a'], retries: 1, retry_delay: '0s' },
        { id: 'c', operator: 'command', upstream: ['b'] },
      ],
    });
    const ac = new AbortController();
    const runId = t.start('p');
    const first = executeRun(t.params, p, runId, ac.signal);
    await t.clock.flush();
    expect(release).not.toBeNull();
    ac.abort(new AbortReason('shutdown', 'stopping'));
    const interrupted = await first;
    expect(interrupted.state).toBe('queued');
    expect(t.store.getTask(runId, 'b')).toMatchObject({ state: 'retrying', tryNumber: 1 });
    expect(t.store.getTask(runId, 'c')!.state).toBe('none');

    expect(t.store.claimRun(runId, process.pid, t.clock.now())).toBe(true);
    const resumed = await executeRun(t.params, p, runId, new AbortController().signal);
    expect(resumed.state).toBe('success');
    expect(calls).toEqual(['a#1', 'b#1', 'b#2', 'c#1']);
    t.close();
  });

  describe('handed over by a replica that no longer leads (src/engine/engine.ts handOver)', () => {
    const HANDOVER = 'handed over to the leader h:2:b: the replica h:1:a that ran it no longer leads';
    /** `b`'s first try runs until aborted; everything else ends at once. */
    function blockingB(calls: string[]): Operator {
      return (ctx) =>
        new Promise((resolve, reject) => {
          calls.push(`${ctx.taskId}#${ctx.tryNumber}`);
          if (ctx.taskId === 'b' && ctx.tryNumber === 1) ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
          else resolve({});
        });
    }
    const chain = pipelineFrom('p', {
      tasks: [
        { id: 'a', operator: 'command' },
        { id: 'b', operator: 'command', upstream: ['a'], retries: 1, retry_delay: '0s' },
        { id: 'c', operator: 'command', upstream: ['b'] },
      ],
    });

    it('a try run here is stopped and recorded with the reason; the run is queued again, and its next execution retries the task', async () => {
      const calls: string[] = [];
      const t = setup({ command: blockingB(calls) });
      const ac = new AbortController();
      const runId = t.start('p');
      const first = executeRun(t.params, chain, runId, ac.signal);
      await t.clock.flush();
      ac.abort(new AbortReason('handover', HANDOVER));
      const handed = await first;
      expect(handed).toMatchObject({ state: 'queued', reason: HANDOVER, ownerPid: null });
      expect(t.store.getTask(runId, 'b')).toMatchObject({ state: 'retrying', tryNumber: 1 });
      expect(t.store.listAttempts(runId, 'b')).toEqual([expect.objectContaining({ tryNumber: 1, state: 'failed', error: HANDOVER })]);

      expect(t.store.claimRun(runId, process.pid, t.clock.now())).toBe(true);
      expect((await executeRun(t.params, chain, runId, new AbortController().signal)).state).toBe('success');
      expect(calls).toEqual(['a#1', 'b#1', 'b#2', 'c#1']);
      t.close();
    });

    it('a try on a task worker is left running for the leader to adopt: no attempt written, the task still running', async () => {
      const calls: string[] = [];
      const op = blockingB(calls);
      const t = setup({ command: op });
      const executor: TaskExecutor = { execute: (_name, operator, ctx) => operator(ctx), canAdopt: (_run, task, tryNumber) => task === 'b' && tryNumber === 1 };
      const ac = new AbortController();
      const runId = t.start('p');
      const first = executeRun({ ...t.params, executor }, chain, runId, ac.signal);
      await t.clock.flush();
      ac.abort(new AbortReason('handover', HANDOVER));
      expect((await first).state).toBe('queued');
      expect(t.store.getTask(runId, 'b')).toMatchObject({ state: 'running', tryNumber: 1 });
      expect(t.store.listAttempts(runId, 'b')).toEqual([expect.objectContaining({ tryNumber: 1, state: 'running' })]);
      expect(t.store.getTask(runId, 'c')!.state).toBe('none');
      t.close();
    });
  });

  it('a missing operator fails the task with a clear error, without retries', async () => {
    const t = setup({});
    const p = pipelineFrom('p', { tasks: [{ id: 'a', operator: 'spark_job', retries: 3 }] });
    const run = await executeRun(t.params, p, t.start('p'), new AbortController().signal);
    expect(run.state).toBe('failed');
    expect(t.store.getTask(run.id, 'a')!.reason).toMatch(/no operator "spark_job" is registered/);
    t.close();
  });

  it('fail operator sanity', async () => {
    const t = setup({ command: fail });
    const run = await executeRun(t.params, pipelineFrom('p', { tasks: [{ id: 'a', operator: 'command' }] }), t.start('p'), new AbortController().signal);
    expect(run.state).toBe('failed');
    t.close();
  });
});
