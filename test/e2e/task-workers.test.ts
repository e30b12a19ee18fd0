/**
 * E2E (issue 19, task workers): the daemon in `executor.mode: workers` and `supervisor worker`
 * processes (real processes on loopback) sharing one store — SQLite (the same file, same host)
 * and a fresh PostgreSQL database of the local stack.
 *
 * - tries run on the workers: task_queue.claimed_by names one, the log written by the worker is
 *   served by the daemon's API, the result (the last JSON line) recorded on the task instance;
 * - `supervisor runs cancel` of a run whose task runs on a worker kills the task's process;
 * - SIGKILL a worker mid-task: after executor.heartbeat_timeout (3 s here) the try fails with
 *   "worker W stopped heartbeating at …" and the retry runs on another worker; the killed
 *   worker's task process is ended by its task wrapper;
 * - SIGTERM a worker mid-task: after its --grace the task is stopped, its row released as lost,
 *   the try failed with the reason and retried on another worker;
 * - a backfill of 200 runs with 4 workers: every logical date has one run, each with one
 *   successful try (checked in the store).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { Client } from 'pg';
import { createFreshPostgres, type FreshPostgres } from '../helpers/postgres-store';
import { stackTls } from '../../stack/tls';
import { ensureServices } from '../helpers/stack';
import {
  Api,
  cli,
  createToken,
  e2eConfig,
  ensureBuilt,
  freePort,
  pidAlive,
  REPO,
  startSupervisor,
  SUPERVISOR_BIN,
  tempDir,
  waitFor,
  writeConfig,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<unknown>;
  logFile: string;
}

type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

const BACKFILL_RUNS = 200;
const HOUR = 3_600_000;

/** A task that records its pid (and try) in a file, then runs `ms`. */
function pidTask(dir: string, ms: number): string[] {
  return [
    process.execPath,
    '-e',
    `require('fs').writeFileSync(${JSON.stringify(dir)} + '/' + process.env.SUPERVISOR_RUN_ID.replace(/[^A-Za-z0-9]/g, '_') + '.' + process.env.SUPERVISOR_TRY_NUMBER, String(process.pid)); setTimeout(() => console.log(JSON.stringify({ slept: ${ms} })), ${ms})`,
  ];
}

function suite(backend: 'sqlite' | 'postgres'): void {
  describe(`task workers (${backend} store)`, () => {
    const tmp = tempDir(`e2e-workers-${backend}-`);
    const pidDir = path.join(tmp.dir, 'pids');
    const workers: WorkerProcess[] = [];
    let daemon: SupervisorProcess | undefined;
    let api: Api;
    let configFile: string;
    let pg: FreshPostgres | undefined;
    let admin: Client | undefined;
    let sqlite: Database.Database | undefined;

    const query: Query = async (sql, params = []) => {
      if (admin) {
        let i = 0;
        return (
          await admin.query(
            sql.replace(/\?/g, () => `$${++i}`),
            params,
          )
        ).rows as Record<string, unknown>[];
      }
      sqlite ??= new Database(path.join(tmp.dir, 'state.db'), { readonly: true, fileMustExist: true });
      return sqlite.prepare(sql).all(...params) as Record<string, unknown>[];
    };
    const diagnose = (): string =>
      [
        daemon?.tail(30) ?? '',
        ...workers.map((w) => `worker ${w.name} log:\n${fs.existsSync(w.logFile) ? fs.readFileSync(w.logFile, 'utf8').split('\n').slice(-15).join('\n') : ''}`),
      ].join('\n');

    function startWorker(name: string, concurrency = 2): WorkerProcess {
      const logFile = path.join(tmp.dir, `worker-${name}.log`);
      const fd = fs.openSync(logFile, 'a');
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [SUPERVISOR_BIN, '--config', configFile, 'worker', '--name', name, '--concurrency', String(concurrency), '--grace', '5s'], {
          cwd: REPO,
          stdio: ['ignore', fd, fd],
        });
      } finally {
        fs.closeSync(fd);
      }
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const w = { name, child, exited, logFile };
      workers.push(w);
      return w;
    }
    const alive = (w: WorkerProcess): boolean => w.child.exitCode === null && w.child.signalCode === null;
    const queueRows = async (runId: string): Promise<Record<string, unknown>[]> =>
      query(`SELECT task_id, try_number, state, claimed_by, error FROM task_queue WHERE run_id = ? ORDER BY task_id, try_number`, [runId]);
    const pidOf = (runId: string, tryNumber: number): number | undefined => {
      const file = path.join(pidDir, `${runId.replace(/[^A-Za-z0-9]/g, '_')}.${tryNumber}`);
      return fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) || undefined : undefined;
    };

    beforeAll(async () => {
      ensureBuilt();
      fs.mkdirSync(pidDir, { recursive: true });
      const port = await freePort();
      const config = e2eConfig({
        port,
        hookUrl: 'http://127.0.0.1:9/unused',
        mailTo: 'unused@example.test',
        pipelines: {
          basic: {
            tasks: [
              {
                id: 'hello',
                operator: 'command',
                params: { command: [process.execPath, '-e', "console.log('hello from ' + process.env.SUPERVISOR_TASK_ID); console.log(JSON.stringify({ rows: 3 }))"] },
              },
              { id: 'after', operator: 'command', upstream: ['hello'], params: { command: ['true'] } },
            ],
          },
          slow: { tasks: [{ id: 'long', operator: 'command', retries: 1, retry_delay: '1s', params: { command: pidTask(pidDir, 6_000) } }] },
          cancelme: { tasks: [{ id: 'forever', operator: 'command', params: { command: pidTask(pidDir, 600_000), kill_grace: '2s' } }] },
          released: { tasks: [{ id: 'long', operator: 'command', retries: 1, retry_delay: '1s', params: { command: pidTask(pidDir, 600_000), kill_grace: '2s' } }] },
          bf: { schedule: '0 * * * *', max_active_runs: 32, tasks: [{ id: 't', operator: 'command', params: { command: ['true'] } }] },
        },
      });
      config.executor = { mode: 'workers', heartbeat_timeout: '3s' };
      const alerts = config.alerts as { sinks: Record<string, unknown>; route: { sinks: string[] } };
      delete alerts.sinks.mail;
      alerts.route.sinks = ['hook'];
      if (backend === 'postgres') {
        await ensureServices(['postgres']);
        pg = await createFreshPostgres('workers');
        admin = await pg.admin();
        fs.writeFileSync(path.join(tmp.dir, 'pg-password'), pg.settings.password ?? '');
        config.store = { url: pg.url, password_file: path.join(tmp.dir, 'pg-password'), ssl: { ca_file: stackTls().caFile } };
      }
      configFile = writeConfig(tmp.dir, config);
      const token = await createToken(configFile);
      daemon = await startSupervisor(configFile, port);
      api = new Api(daemon.url, token);
      startWorker('w1');
      startWorker('w2');
    }, 180_000);

    afterAll(async () => {
      for (const w of workers) if (alive(w)) w.child.kill('SIGTERM');
      await Promise.all(
        workers.map(async (w) => {
          const t = setTimeout(() => w.child.kill('SIGKILL'), 20_000);
          await w.exited;
          clearTimeout(t);
        }),
      );
      await daemon?.stop();
      sqlite?.close();
      await pg?.drop();
      tmp.cleanup();
    }, 60_000);

    {
      it('runs the tries on the workers: claimed_by, the worker-written log through the API, the result', async () => {
        const { json } = await api.trigger('basic');
        const run = await api.waitForRun(json.runId, 120_000, diagnose);
        expect(run.state).toBe('success');
        const rows = await queueRows(json.runId);
        expect(rows.map((r) => [r.task_id, r.state])).toEqual([
          ['after', 'done'],
          ['hello', 'done'],
        ]);
        for (const r of rows) expect(['w1', 'w2']).toContain(r.claimed_by);
        const { logs } = await api.get<{ logs: { tryNumber: number; content: string }[] }>(`/runs/${json.runId}/tasks/hello/logs`);
        expect(logs).toHaveLength(1);
        expect(logs[0]!.content).toMatch(/^\[worker w[12]\] claimed try 1 of hello \(operator command\)/);
        expect(logs[0]!.content).toContain('hello from hello');
        expect(logs[0]!.content).toMatch(/\[supervisor\] try 1 ran on worker w[12]/);
        expect(logs[0]!.content).toContain('[supervisor] try 1: success');
        const { tasks, attempts } = await api.tasks(json.runId);
        expect(tasks.find((t) => t.taskId === 'hello')?.result).toEqual({ rows: 3 });
        // the pid of a remote process is not the daemon's to kill: not on the task instance
        expect(tasks.every((t) => t.pid === null)).toBe(true);
        expect(attempts.find((a) => a.taskId === 'hello')).toMatchObject({ state: 'success', exitCode: 0 });
      });

      it('supervisor runs cancel: the task running on a worker is killed, the run ends cancelled', async () => {
        const { json } = await api.trigger('cancelme');
        const pid = await waitFor('the task to start on a worker', () => pidOf(json.runId, 1), { timeoutMs: 60_000, diagnose });
        expect(pidAlive(pid)).toBe(true);
        const res = await cli(configFile, ['runs', 'cancel', json.runId, '--reason', 'e2e cancel']);
        expect(res.code).toBe(0);
        await waitFor('the task process to be killed', () => !pidAlive(pid), { timeoutMs: 30_000, diagnose });
        const run = await waitFor(
          'the run to end cancelled',
          async () => {
            const r = await api.run(json.runId);
            return r.state === 'cancelled' ? r : undefined;
          },
          { timeoutMs: 30_000, diagnose },
        );
        expect(run.tasks[0]).toMatchObject({ taskId: 'forever', state: 'cancelled' });
        const rows = await queueRows(json.runId);
        expect(rows).toHaveLength(1);
        expect(rows[0]!.state).toBe('failed');
        expect(['w1', 'w2']).toContain(rows[0]!.claimed_by);
      });
    }

    it('SIGKILL the worker running a task: the try fails with the reason after the heartbeat timeout, the retry runs on the other worker', async () => {
      const { json } = await api.trigger('slow');
      const pid = await waitFor('the task to start on a worker', () => pidOf(json.runId, 1), { timeoutMs: 60_000, diagnose });
      const claimed = String((await queueRows(json.runId))[0]!.claimed_by);
      const victim = workers.find((w) => w.name === claimed && alive(w))!;
      expect(victim).toBeDefined();
      victim.child.kill('SIGKILL');
      await victim.exited;
      // the task wrapper notices its worker went away and ends the task
      await waitFor('the orphaned task process to be ended by its wrapper', () => !pidAlive(pid), { timeoutMs: 30_000, diagnose });
      const run = await api.waitForRun(json.runId, 120_000, diagnose);
      expect(run.state).toBe('success');
      const { attempts } = await api.tasks(json.runId);
      const tries = attempts.filter((a) => a.taskId === 'long').sort((a, b) => a.tryNumber - b.tryNumber);
      expect(tries.map((a) => a.state)).toEqual(['failed', 'success']);
      expect(tries[0]!.error).toMatch(new RegExp(`^worker ${claimed} stopped heartbeating at \\d{4}-\\d\\d-\\d\\dT`));
      const rows = await queueRows(json.runId);
      expect(rows.map((r) => r.state)).toEqual(['lost', 'done']);
      expect(rows[1]!.claimed_by).not.toBe(claimed);
      const { logs } = await api.get<{ logs: { tryNumber: number; content: string }[] }>(`/runs/${json.runId}/tasks/long/logs`);
      expect(logs.find((l) => l.tryNumber === 1)?.content).toContain(`stopped heartbeating`);
    });

    it('SIGTERM a worker running a task: after its grace the task is stopped, released as lost and retried on another worker', async () => {
      // a second live worker to take the retry
      if (workers.filter(alive).length < 2) startWorker(`w${workers.length + 1}`);
      const { json } = await api.trigger('released');
      const pid = await waitFor('the task to start on a worker', () => pidOf(json.runId, 1), { timeoutMs: 60_000, diagnose });
      const claimed = String((await queueRows(json.runId))[0]!.claimed_by);
      const stopping = workers.find((w) => w.name === claimed && alive(w))!;
      stopping.child.kill('SIGTERM');
      // --grace 5s, then SIGTERM → SIGKILL (2 s) of the task
      await waitFor('the task process to be stopped', () => !pidAlive(pid), { timeoutMs: 40_000, diagnose });
      await stopping.exited;
      expect(stopping.child.exitCode).toBe(0);
      const pid2 = await waitFor('the retry to start on another worker', () => pidOf(json.runId, 2), { timeoutMs: 60_000, diagnose });
      const rows = await queueRows(json.runId);
      expect(rows.map((r) => r.state)).toEqual(['lost', 'claimed']);
      expect(rows[1]!.claimed_by).not.toBe(claimed);
      const { attempts } = await api.tasks(json.runId);
      expect(attempts.find((a) => a.tryNumber === 1)).toMatchObject({
        state: 'failed',
        error: expect.stringMatching(new RegExp(`^worker ${claimed} shut down while the try was running`)),
      });
      expect((await cli(configFile, ['runs', 'cancel', json.runId])).code).toBe(0);
      await waitFor('the retry to be cancelled', () => !pidAlive(pid2), { timeoutMs: 30_000, diagnose });
    });

    it(`a backfill of ${BACKFILL_RUNS} runs with 4 workers: every logical date completes exactly once`, async () => {
      // 4 live workers (one of the first two was killed above)
      let n = workers.length;
      while (workers.filter(alive).length < 4) startWorker(`w${++n}`, 4);
      const start = Date.UTC(2026, 0, 1);
      const end = start + (BACKFILL_RUNS - 1) * HOUR;
      const res = await api.request<{ plan: unknown[] }>('POST', '/pipelines/bf/backfill', {
        start_date: new Date(start).toISOString(),
        end_date: new Date(end).toISOString(),
        max_active: 32,
      });
      expect(res.status).toBe(202);
      expect(res.json.plan).toHaveLength(BACKFILL_RUNS);
      const inRange = `pipeline = 'bf' AND logical_date BETWEEN ${start} AND ${end}`;
      await waitFor(
        `${BACKFILL_RUNS} successful backfill runs`,
        async () => Number((await query(`SELECT COUNT(*) AS n FROM runs WHERE ${inRange} AND state = 'success'`))[0]!.n) === BACKFILL_RUNS,
        { timeoutMs: 240_000, intervalMs: 1_000, diagnose },
      );
      const perDate = await query(`SELECT logical_date, COUNT(*) AS n FROM runs WHERE ${inRange} GROUP BY logical_date`);
      expect(perDate).toHaveLength(BACKFILL_RUNS);
      expect(perDate.every((r) => Number(r.n) === 1)).toBe(true);
      const tries = await query(
        `SELECT a.run_id, COUNT(*) AS n FROM task_attempts a JOIN runs r ON r.id = a.run_id WHERE ${inRange.replace(/pipeline|logical_date/g, (c) => `r.${c}`)} AND a.state = 'success' GROUP BY a.run_id`,
      );
      expect(tries).toHaveLength(BACKFILL_RUNS);
      expect(tries.every((r) => Number(r.n) === 1)).toBe(true);
      const queue = await query(
        `SELECT q.state, q.claimed_by FROM task_queue q JOIN runs r ON r.id = q.run_id WHERE ${inRange.replace(/pipeline|logical_date/g, (c) => `r.${c}`)}`,
      );
      expect(queue).toHaveLength(BACKFILL_RUNS);
      expect(queue.every((q) => q.state === 'done')).toBe(true);
      // the work was spread: more than one worker claimed tries
      expect(new Set(queue.map((q) => q.claimed_by)).size).toBeGreaterThan(1);
    }, 300_000);
  });
}

suite('sqlite');
suite('postgres');
