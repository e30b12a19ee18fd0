/**
 * The task worker's endpoint in one process (src/server/worker-app.ts, src/metrics/worker.ts):
 * the `--listen` / `executor.worker_listen` parser, and /metrics, /readyz, /healthz through
 * `inject()` around a real task worker on an in-memory SQLite store, with tries queued by the
 * runner's worker executor. The real process against PostgreSQL is test/e2e/worker-endpoint.test.ts.
 */
import { parseListenAddress } from '../../../src/config/listen';
import { createWorkerExecutor } from '../../../src/engine/executor';
import type { Operator } from '../../../src/engine/operator';
import { executeRun } from '../../../src/engine/runner';
import { createTaskWorker } from '../../../src/engine/worker';
import { createMetricsRegistry } from '../../../src/metrics/registry';
import { registerWorkerMetrics } from '../../../src/metrics/worker';
import { buildWorkerApp, workerReadiness } from '../../../src/server/worker-app';
import { systemClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { storeHealth } from '../../../src/store/database';
import { createTaskQueueStore } from '../../../src/store/task-queue';
import { eventLog, memoryStore, pipelineFrom } from '../engine/helpers';

describe('parseListenAddress', () => {
  it.each([
    ['9464', { host: '127.0.0.1', port: 9464 }],
    ['0', { host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['worker-1.pipelines.svc:65535', { host: 'worker-1.pipelines.svc', port: 65535 }],
    ['[::1]:9464', { host: '::1', port: 9464 }],
    [' 127.0.0.1:80 ', { host: '127.0.0.1', port: 80 }],
  ])('%j → %j', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each([
    ['', 'is not a listen address'],
    ['nope', 'is not a listen address'],
    [':9464', 'names no host'],
    ['127.0.0.1:', 'is not a port'],
    ['127.0.0.1:65536', '"65536" is not a port'],
    ['127.0.0.1:-1', 'is not a port'],
    ['127.0.0.1:80:81', 'is not a listen address'],
    ['::1:80', 'is not a listen address'],
    ['[::1]', 'is not a listen address'],
    ['[127.0.0.1]:80', 'is not a host name or IP address'],
    ['bad host:80', '"bad host" is not a host name or IP address'],
    ['-x:80', 'is not a host name or IP address'],
  ])('%j is refused: %s', (text, problem) => {
    const r = parseListenAddress(text);
    expect(r).toEqual({ problem: expect.stringContaining(problem) as string });
  });
});

describe('the task worker endpoint (inject)', () => {
  it('/metrics counts tries claimed, running and finished by outcome; /readyz says ready, then draining, then the store is closed', async () => {
    const { store, db, close } = memoryStore();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const command: Operator = async (ctx) => {
      if (ctx.taskId === 'bad') throw new Error('exit 3');
      if (ctx.taskId === 'wait') await gate;
      return { exitCode: 0 };
    };
    const worker = createTaskWorker({
      db,
      runs: store,
      operators: { command },
      name: 'w1',
      concurrency: 3,
      clock: systemClock,
      logger: silentLogger,
      statusDir: '/tmp',
      pollIntervalMs: 20,
    });
    const registry = createMetricsRegistry({ version: 'test' });
    registerWorkerMetrics({ registry, worker });
    let started = false;
    const app = buildWorkerApp({ logger: silentLogger, registry, readiness: workerReadiness({ store: () => storeHealth(db), worker, started: () => started }) });
    const metric = async (line: string): Promise<number> => {
      const text = (await app.inject({ url: '/metrics' })).body;
      const found = text.split('\n').find((l) => l.startsWith(`${line} `));
      if (found === undefined) throw new Error(`${line} not in /metrics:\n${text}`);
      return Number(found.slice(line.length + 1));
    };
    try {
      const notStarted = await app.inject({ url: '/readyz' });
      expect(notStarted.statusCode).toBe(503);
      expect(notStarted.json()).toEqual({ status: 'not ready', components: { store: true, worker: 'not started' } });
      await worker.start();
      started = true;
      expect((await app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready', components: { store: true, worker: true } });
      expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
      expect(await metric('supervisor_worker_concurrency')).toBe(3);
      expect(await metric('supervisor_worker_tries_running')).toBe(0);

      const executor = createWorkerExecutor({ db, runs: store, clock: systemClock, heartbeatTimeoutMs: 5_000, pollIntervalMs: 20 });
      const params = {
        store,
        operators: { command: () => Promise.reject(new Error('ran in the daemon')) },
        clock: systemClock,
        logger: silentLogger,
        emit: eventLog().emit,
        configDir: '/tmp',
        random: () => 0.5,
        executor,
      };
      const p = pipelineFrom('p', {
        tasks: [
          { id: 'ok', operator: 'command' },
          { id: 'bad', operator: 'command' },
          { id: 'wait', operator: 'command' },
        ],
      });
      const { run } = store.insertRun({ pipeline: 'p', logicalDate: Date.now(), kind: 'manual', firedAt: Date.now(), queuedAt: Date.now() });
      store.claimRun(run.id, process.pid, Date.now());
      const done = executeRun(params, p, run.id, new AbortController().signal);
      // ok and bad end at once; wait runs until released
      for (let i = 0; i < 200 && (await metric('supervisor_worker_tries_claimed_total')) < 3; i++) await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < 200 && (await metric('supervisor_worker_tries_running')) !== 1; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await metric('supervisor_worker_tries_claimed_total')).toBe(3);
      expect(await metric('supervisor_worker_tries_running')).toBe(1);
      expect(await metric('supervisor_worker_tries_finished_total{outcome="done"}')).toBe(1);
      expect(await metric('supervisor_worker_tries_finished_total{outcome="failed"}')).toBe(1);

      // stop() with a try running: not ready (draining) until it ends
      const stopping = worker.stop();
      const draining = await app.inject({ url: '/readyz' });
      expect(draining.statusCode).toBe(503);
      expect(draining.json<{ components: { worker: string } }>().components.worker).toBe('draining: shutting down, no new claims (1 running tries finishing)');
      expect(await metric('supervisor_worker_draining')).toBe(1);
      release();
      await stopping;
      expect((await done).state).toBe('failed');
      expect(await metric('supervisor_worker_tries_running')).toBe(0);
      expect(await metric('supervisor_worker_tries_finished_total{outcome="done"}')).toBe(2);
      expect(await metric('supervisor_worker_heartbeat_failures_total')).toBe(0);
      expect(await metric('supervisor_worker_claim_errors_total')).toBe(0);
      // the default process metrics are there too
      expect(await metric('process_cpu_seconds_total')).toBeGreaterThan(0);

      db.close();
      const closed = await app.inject({ url: '/readyz' });
      expect(closed.statusCode).toBe(503);
      expect(closed.json<{ components: { store: string } }>().components.store).toBe('closed');
    } finally {
      release();
      await worker.stop();
      await app.close();
      if (db.open) close();
    }
  });

  it('counts claim poll errors and heartbeat failures while the store refuses', async () => {
    const { store, db, close } = memoryStore();
    // the store as the worker sees it: every statement and transaction fails while `down`
    let down = false;
    const refuse = (): never => {
      throw new Error('the store is down (test)');
    };
    const flaky = new Proxy(db, {
      get(target, key): unknown {
        if (key === 'prepare') {
          return (sql: string) => {
            const st = target.prepare(sql);
            return {
              run: (...a: unknown[]) => (down ? refuse() : st.run(...a)),
              get: (...a: unknown[]) => (down ? refuse() : st.get(...a)),
              all: (...a: unknown[]) => (down ? refuse() : st.all(...a)),
            };
          };
        }
        if (key === 'transaction') {
          return (fn: (...a: unknown[]) => unknown) => {
            const tx = target.transaction(fn);
            const run = (...a: unknown[]): unknown => (down ? refuse() : tx.immediate(...a));
            return Object.assign(run, { immediate: run, deferred: run, exclusive: run });
          };
        }
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const command: Operator = async () => (await gate, { exitCode: 0 });
    const worker = createTaskWorker({
      db: flaky,
      runs: store,
      operators: { command },
      name: 'w1',
      concurrency: 2,
      clock: systemClock,
      logger: silentLogger,
      statusDir: '/tmp',
      pollIntervalMs: 10,
      heartbeatIntervalMs: 10,
    });
    const wait = async (ok: () => boolean): Promise<void> => {
      for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    try {
      const context = { pipeline: 'p', taskId: 't', runId: 'r1', logicalDate: 0, tryNumber: 1, maxTries: 1, params: {}, conf: {}, upstream: [], configDir: '/tmp' };
      createTaskQueueStore(db).enqueue({ id: 'q1', runId: 'r1', taskId: 't', tryNumber: 1, operator: 'command', context, createdAt: Date.now() });
      await worker.start();
      await wait(() => worker.running().length === 1);
      expect(worker.facts()).toMatchObject({ claimed: 1, claimErrors: 0, heartbeatFailures: 0 });
      // a try running (so there is a heartbeat to write) and a free slot (so the worker polls for claims)
      down = true;
      await wait(() => worker.facts().claimErrors >= 2 && worker.facts().heartbeatFailures >= 2);
      expect(worker.facts().claimErrors).toBeGreaterThanOrEqual(2);
      expect(worker.facts().heartbeatFailures).toBeGreaterThanOrEqual(2);
      down = false;
      release();
      await wait(() => worker.facts().finished.done === 1);
      expect(worker.facts()).toMatchObject({ claimed: 1, finished: { done: 1, failed: 0, lost: 0 } });
    } finally {
      release();
      down = false;
      await worker.stop();
      close();
    }
  });
});
