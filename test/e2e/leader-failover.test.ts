/**
 * E2E (issue 19, drills about leadership): replicas of `supervisor start` (real processes on
 * loopback ports) sharing one fresh PostgreSQL database of the local stack, with the default
 * lease (10 s, renewed every 2 s), in `executor.mode: workers` with two `supervisor worker`
 * processes (the ingestion runs there; the `command`, `notify` tasks stay in the replicas).
 *
 * - **SIGKILL the leader while an ingestion try runs on a worker.** Another replica leads within
 *   10 s (+ the 2 s of one poll); its crash recovery adopts the try — still claimed by its worker,
 *   which kept heartbeating — instead of running it again: the run of that logical date is one
 *   row, it succeeds, the ingestion has exactly one attempt (one process, one task_queue row),
 *   and the task after it runs once (one notification at the webhook). The cron ticks of the gap
 *   fire late, once each (no logical date missing, none twice), and a deadline that passed in the
 *   gap pages the webhook (PipelineDeadlineMissed), once — when the gap has deadlines: a takeover
 *   by the lease's expiry (~10 s) has; one that notices the dead leader's store session at once
 *   (well under a tick) leaves no tick late and no deadline in the gap.
 * - **SIGSTOP the leader past its lease, then SIGCONT it.** It keeps its store session, so the
 *   takeover waits for the lease's expiry: the ticks of that gap fire late, once each, with the
 *   delay recorded, and a deadline due in the gap pages once. Another replica takes over; the
 *   woken one finds itself deposed (logged once) and starts nothing: no run claimed or created
 *   by it after it woke, no logical date twice, no dedup key enqueued twice or delivered twice —
 *   checked in the store and at the webhook.
 * - **SIGSTOP the leader while a task runs in it, then SIGCONT it.** The new leader, on the same
 *   host, leaves the run to its owner (a live pid); the woken one, deposed, hands it over: it
 *   stops the try (recorded failed, "handed over"), queues the run again, and the new leader
 *   resumes it (the second try succeeds); the run ends once and its notification is sent once.
 *   The same while an ingestion try runs on a worker: the hand-over leaves that try running, the
 *   new leader adopts it (one attempt, one process), and the notification after it goes once.
 *
 * `tick` runs every 3 s (a 2 s task, one run at a time) with a 4 s deadline: while a leader lives
 * every run succeeds in time (no alert); a gap of ~10 s leaves ticks without a run past their
 * deadline, and their late runs, one after the other, stay past it for longer than one probe
 * (a success is never a miss, so a late run that succeeded between two probes would page no one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from 'pg';
import { createFreshPostgres, type FreshPostgres } from '../helpers/postgres-store';
import { stackTls } from '../../stack/tls';
import { ensureServices } from '../helpers/stack';
import {
  cli,
  e2eConfig,
  ensureBuilt,
  freePort,
  pidAlive,
  REPO,
  sleep,
  startSupervisor,
  SUPERVISOR_BIN,
  tempDir,
  waitFor,
  WebhookReceiver,
  writeConfig,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';

const TICK_MS = 3_000;
/** How long the ingestion try runs: longer than a failover, so its worker is still running it when a new leader takes over. */
const INGEST_MS = 16_000;
const INGEST_DATE = '2026-03-01T00:00:00.000Z';

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<unknown>;
  logFile: string;
}

interface Readyz {
  status: string;
  components: Record<string, true | string>;
  leader?: { self: boolean; holder: string | null; epoch: number | null };
}

async function readyz(p: SupervisorProcess): Promise<Readyz | undefined> {
  const res = await fetch(`${p.url}/readyz`).catch(() => undefined);
  return res ? ((await res.json()) as Readyz) : undefined;
}

interface RunRow {
  id: string;
  logical_date: number;
  queued_at: number;
  started_at: number | null;
  state: string;
  owner_pid: number | null;
}

describe('leader lease drills (replicas on one PostgreSQL database)', () => {
  const tmp = tempDir('e2e-leader-');
  const receiver = new WebhookReceiver();
  const replicas: SupervisorProcess[] = [];
  const workers: WorkerProcess[] = [];
  const dirs: string[] = [];
  const markers = path.join(tmp.dir, 'ingest-markers');
  const ingestScript = path.join(tmp.dir, 'ingest.js');
  const sourcesFile = path.join(tmp.dir, 'sources.yaml');
  const handoverMarker = path.join(tmp.dir, 'handover-try-1.pid');
  let pg: FreshPostgres;
  let admin: Client;

  const runs = async (): Promise<RunRow[]> =>
    (await admin.query(`SELECT id, logical_date, queued_at, started_at, state, owner_pid FROM runs WHERE pipeline = 'tick' ORDER BY logical_date`)).rows.map(
      (r: Record<string, unknown>) => ({
        id: String(r.id),
        logical_date: Number(r.logical_date),
        queued_at: Number(r.queued_at),
        started_at: r.started_at === null ? null : Number(r.started_at),
        state: String(r.state),
        owner_pid: r.owner_pid === null ? null : Number(r.owner_pid),
      }),
    );
  const leaderOf = async (): Promise<SupervisorProcess | undefined> => {
    for (const p of replicas) if (p.child.exitCode === null && p.child.signalCode === null && (await readyz(p))?.leader?.self) return p;
    return undefined;
  };
  const diagnose = (): string =>
    [
      receiver.summary(),
      ...replicas.map((p) => p.tail(25)),
      ...workers.map((w) => `worker ${w.name} log:\n${fs.existsSync(w.logFile) ? fs.readFileSync(w.logFile, 'utf8').split('\n').slice(-15).join('\n') : ''}`),
    ].join('\n');
  /** The ingestion processes started: one marker file per process (try number and pid). */
  const ingestStarts = (): { tryNumber: number; pid: number }[] =>
    fs
      .readdirSync(markers)
      .filter((f) => f.startsWith('started-'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(markers, f), 'utf8')) as { tryNumber: number; pid: number });

  function startWorker(name: string, configFile: string): WorkerProcess {
    const logFile = path.join(tmp.dir, `worker-${name}.log`);
    const fd = fs.openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [SUPERVISOR_BIN, '--config', configFile, 'worker', '--name', name, '--concurrency', '2', '--grace', '2s'], {
        cwd: REPO,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      fs.closeSync(fd);
    }
    const w = { name, child, exited: new Promise((resolve) => child.once('exit', resolve)), logFile };
    workers.push(w);
    return w;
  }

  /** Consecutive ticks from the first run to the last: none missing, none twice. */
  function expectEveryTickOnce(rows: RunRow[]): void {
    const dates = rows.map((r) => r.logical_date);
    expect(new Set(dates).size).toBe(dates.length);
    for (let i = 1; i < dates.length; i++) expect(dates[i]! - dates[i - 1]!).toBe(TICK_MS);
  }

  async function startReplica(i: number): Promise<SupervisorProcess> {
    const port = await freePort();
    const dir = path.join(tmp.dir, `replica-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'pg-password'), pg.settings.password ?? '');
    const config = e2eConfig({
      port,
      hookUrl: receiver.url,
      mailTo: 'unused@example.test',
      pipelines: {
        // 2 s a run, one at a time: in time while a leader lives; the gap's runs, fired late one
        // after the other, stay unsucceeded past their deadlines for longer than the 5 s deadline probe
        tick: {
          schedule: '*/3 * * * * *',
          catchup: false,
          overlap: 'queue',
          max_active_runs: 1,
          deadline: { after: '4s' },
          // a retry: the run a SIGKILLed leader was executing is recovered and runs again in time
          // (no deadline missed when the takeover is quick), not failed for good
          tasks: [{ id: 'work', operator: 'command', retries: 1, retry_delay: '1s', params: { command: ['sleep', '2'] } }],
        },
        // the ingestion runs on a worker; the notification after it in the leader
        ingest: {
          tasks: [
            {
              id: 'run_full_ingestion',
              operator: 'ingestion',
              retries: 1,
              retry_delay: '1s',
              params: { config_path: sourcesFile, kafka_servers: '{{ var.kafka_servers }}', execution_mode: 'subprocess', command: [process.execPath, ingestScript] },
            },
            { id: 'send_success_notification', operator: 'notify', upstream: ['run_full_ingestion'], params: { message: 'ingestion of the failover drill finished' } },
          ],
        },
        // a task run in the replica (a `command`), then a notification: its first try runs long
        // and records its pid, the second ends at once
        handover: {
          tasks: [
            {
              id: 'slow',
              operator: 'command',
              retries: 1,
              retry_delay: '1s',
              params: { command: ['sh', '-c', `if [ -e ${handoverMarker} ]; then exit 0; fi; echo $$ > ${handoverMarker}; exec sleep 60`] },
            },
            { id: 'notify_done', operator: 'notify', upstream: ['slow'], params: { message: 'the handed-over run finished' } },
          ],
        },
      },
    });
    config.store = { url: pg.url, password_file: path.join(dir, 'pg-password'), ssl: { ca_file: stackTls().caFile } };
    // tries of the ingestion operator go to the workers; `command` (tick) and notify stay here
    config.executor = { mode: 'workers', heartbeat_timeout: '5s', local_operators: ['notify', 'alert', 'collect_metrics', 'command'] };
    const alerts = config.alerts as { sinks: Record<string, unknown>; route: { sinks: string[] } };
    delete alerts.sinks.mail;
    alerts.route.sinks = ['hook'];
    const file = writeConfig(dir, config);
    dirs.push(dir);
    const p = await startSupervisor(file, port);
    replicas.push(p);
    return p;
  }

  beforeAll(async () => {
    await ensureServices(['postgres']);
    ensureBuilt();
    pg = await createFreshPostgres('leader');
    admin = await pg.admin();
    await receiver.listen();
    fs.mkdirSync(markers, { recursive: true });
    fs.writeFileSync(sourcesFile, 'sources:\n  drill:\n    url: http://127.0.0.1:9/unused\n');
    // records one marker per process (its try and pid), then works for INGEST_MS and prints its result
    fs.writeFileSync(
      ingestScript,
      `const fs = require('fs');
const tryNumber = Number(process.env.SUPERVISOR_TRY_NUMBER);
fs.writeFileSync(${JSON.stringify(markers)} + '/started-' + tryNumber + '-' + process.pid + '.json', JSON.stringify({ tryNumber, pid: process.pid }));
setTimeout(() => console.log(JSON.stringify({ ingested: 42, tryNumber })), ${INGEST_MS});
`,
    );
  }, 120_000);

  afterAll(async () => {
    for (const p of replicas) {
      try {
        process.kill(p.pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await Promise.all(replicas.map((p) => p.stop()));
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(
      workers.map(async (w) => {
        const t = setTimeout(() => w.child.kill('SIGKILL'), 15_000);
        await w.exited;
        clearTimeout(t);
      }),
    );
    await receiver.close();
    await pg?.drop();
    tmp.cleanup();
  });

  it('SIGKILL the leader while an ingestion try runs on a worker: another replica leads, adopts the try (one attempt, one run, the DAG goes on once), every tick once (late when the gap has any)', async () => {
    await startReplica(0);
    await startReplica(1);
    startWorker('w1', path.join(dirs[0]!, 'supervisor.yaml'));
    startWorker('w2', path.join(dirs[0]!, 'supervisor.yaml'));
    const first = await waitFor('one replica to lead', leaderOf, { timeoutMs: 20_000, diagnose });
    const other = replicas.find((p) => p !== first)!;
    expect((await readyz(other))?.leader).toMatchObject({ self: false, holder: expect.stringContaining(`:${first.pid}:`) });
    expect((await readyz(other))?.status).toBe('ready'); // a follower is ready
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metrics).toMatch(/^supervisor_leader\{holder="[^"]+:\d+:[0-9a-f]+"\} 1$/m);
    expect(await (await fetch(`${other.url}/metrics`)).text()).toMatch(/^supervisor_leader\{holder="[^"]+"\} 0$/m);

    // a few ticks succeed in time under the first leader, with no deadline alert
    await waitFor('3 successful tick runs', async () => (await runs()).filter((r) => r.state === 'success').length >= 3, { timeoutMs: 30_000, diagnose });
    expect(receiver.matching(/PipelineDeadlineMissed/)).toHaveLength(0);
    const epochBefore = (await readyz(first))!.leader!.epoch!;

    // an ingestion run; its try claimed by a worker, its process started
    const triggered = await cli(path.join(dirs[0]!, 'supervisor.yaml'), ['pipelines', 'trigger', 'ingest', '--logical-date', INGEST_DATE]);
    expect(triggered.code).toBe(0);
    const ingestDate = Date.parse(INGEST_DATE);
    const claim = await waitFor(
      'the ingestion try to run on a worker',
      async () => {
        const q = await admin.query(`SELECT q.claimed_by FROM task_queue q JOIN runs r ON r.id = q.run_id WHERE r.pipeline = 'ingest' AND q.state = 'claimed'`);
        return q.rows.length === 1 && ingestStarts().length === 1 ? String(q.rows[0].claimed_by) : undefined;
      },
      { timeoutMs: 30_000, diagnose },
    );
    expect(['w1', 'w2']).toContain(claim);
    const ingestPid = ingestStarts()[0]!.pid;
    const ingestRun = (await admin.query(`SELECT id, owner FROM runs WHERE pipeline = 'ingest'`)).rows[0] as { id: string; owner: string };
    // owned by the leader's lease holder id
    expect(ingestRun.owner).toBe((await readyz(first))!.leader!.holder);

    // kill it just after a tick ran
    const lastBefore = (await runs()).at(-1)!;
    await waitFor('a fresh tick run', async () => (await runs()).at(-1)!.logical_date > lastBefore.logical_date, { timeoutMs: 10_000 });
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await first.exited;
    const lastFired = Math.max(...(await runs()).map((r) => r.logical_date));

    await waitFor('the other replica to lead', async () => (await readyz(other))?.leader?.self === true, { timeoutMs: 20_000, intervalMs: 100, diagnose });
    const failoverMs = Date.now() - killedAt;
    process.stderr.write(`e2e leader: failover after SIGKILL took ${failoverMs} ms\n`);
    // the bound (lease 10 s): the dead leader's session ends with its process, so a
    // follower waiting on its advisory-lock key takes over in well under a second here
    expect(failoverMs).toBeLessThanOrEqual(10_000);
    expect((await readyz(other))!.leader!.epoch).toBe(epochBefore + 1);
    // the ingestion process was not stopped by the failover: its worker still runs it
    expect(pidAlive(ingestPid)).toBe(true);

    // the ingestion run: adopted by the new leader, one row for its logical date, success
    await waitFor('the ingestion run to succeed', async () => (await admin.query(`SELECT state FROM runs WHERE id = $1`, [ingestRun.id])).rows[0]?.state === 'success', {
      timeoutMs: INGEST_MS + 30_000,
      diagnose,
    });
    const ofDate = (await admin.query(`SELECT id, state, owner FROM runs WHERE pipeline = 'ingest' AND logical_date = $1`, [ingestDate])).rows;
    expect(ofDate).toHaveLength(1);
    expect(ofDate[0].owner).toBe((await readyz(other))!.leader!.holder);
    // exactly one attempt of the ingestion, successful: adopted, not re-run
    const attempts = (await admin.query(`SELECT try_number, state FROM task_attempts WHERE run_id = $1 AND task_id = 'run_full_ingestion'`, [ingestRun.id])).rows;
    expect(attempts.map((a) => [Number(a.try_number), a.state])).toEqual([[1, 'success']]);
    const queued = (await admin.query(`SELECT try_number, state, claimed_by FROM task_queue WHERE run_id = $1 AND task_id = 'run_full_ingestion'`, [ingestRun.id])).rows;
    expect(queued.map((q) => [Number(q.try_number), q.state, q.claimed_by])).toEqual([[1, 'done', claim]]);
    expect(ingestStarts()).toEqual([{ tryNumber: 1, pid: ingestPid }]);
    const task = (await admin.query(`SELECT state, result FROM task_instances WHERE run_id = $1 AND task_id = 'run_full_ingestion'`, [ingestRun.id])).rows[0];
    expect(task.state).toBe('success');
    expect(JSON.parse(String(task.result))).toMatchObject({ ingested: 42 });
    const log = (await admin.query(`SELECT content FROM task_logs WHERE run_id = $1 AND task_id = 'run_full_ingestion'`, [ingestRun.id])).rows[0];
    expect(String(log.content)).toMatch(/try 1 adopted after a failover \(claimed on worker w[12]\)/);
    // the DAG went on once after it: one notification
    await waitFor('the notification of the ingestion run', () => receiver.requests.find((r) => r.body.includes('ingestion of the failover drill finished')), {
      timeoutMs: 20_000,
      diagnose,
    });
    expect(receiver.requests.filter((r) => r.body.includes('ingestion of the failover drill finished'))).toHaveLength(1);

    // the gap's ticks: fired late by the new leader, each once (none missing: expectEveryTickOnce), and they succeed
    await waitFor('runs for the ticks after the kill', async () => (await runs()).filter((r) => r.logical_date > lastFired && r.state === 'success').length >= 3, {
      timeoutMs: 30_000,
      diagnose,
    });
    const all = await runs();
    expectEveryTickOnce(all);
    const takeoverAt = killedAt + failoverMs;
    const gap = all.filter((r) => r.logical_date > lastFired && r.logical_date < takeoverAt - 1_000);
    // fired late: queued well after their logical date (the delay the schedule delay metric records)
    for (const r of gap) expect(r.queued_at - r.logical_date).toBeGreaterThan(1_000);
    const delay = await (await fetch(`${other.url}/metrics`)).text();
    expect(delay).toMatch(/^supervisor_pipeline_schedule_delay_seconds_count\{pipeline="tick"[^}]*\} [1-9]/m);
    process.stderr.write(`e2e leader: ${gap.length} tick(s) due in the gap, fired late by ${gap.map((r) => r.queued_at - r.logical_date).join(', ')} ms\n`);

    if (gap.length >= 2) {
      // a failover by the lease's expiry (~10 s): a deadline due in the gap still pages, once
      const page = await waitFor('PipelineDeadlineMissed for tick on the webhook', () => receiver.matching(/PipelineDeadlineMissed/)[0], { timeoutMs: 30_000, diagnose });
      expect(page.body).toContain('tick');
    }
    // (a takeover faster than a tick, the dead leader's store session noticed, leaves no deadline in the gap)
    await sleep(2_000);
    const firingKeys = receiver.matching(/PipelineDeadlineMissed/).map((h) => h.dedupKey);
    expect(new Set(firingKeys).size).toBe(firingKeys.length);
  }, 180_000);

  it('SIGSTOP the leader past its lease, then SIGCONT: the ticks of the gap fire late once each, a deadline due in the gap pages once; the woken one finds itself deposed and starts nothing (no duplicate run or notification)', async () => {
    // a second follower, so someone takes over while the leader is stopped
    const follower = await startReplica(2);
    const leader = await waitFor('a leader', leaderOf, { timeoutMs: 20_000, diagnose });
    expect(leader).not.toBe(follower);
    const epochBefore = (await readyz(leader))!.leader!.epoch!;
    const pagesBefore = receiver.matching(/PipelineDeadlineMissed/).length;

    process.kill(leader.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    const lastFired = Math.max(...(await runs()).map((r) => r.logical_date));
    // a stopped leader keeps its store session: the takeover waits for the lease's expiry, a real gap
    await waitFor('the follower to take over', async () => (await readyz(follower))?.leader?.self === true, { timeoutMs: 20_000, intervalMs: 100, diagnose });
    const takeoverAt = Date.now();
    expect((await readyz(follower))!.leader!.epoch).toBe(epochBefore + 1);
    // past the lease, then wake it up
    await sleep(Math.max(0, stoppedAt + 14_000 - Date.now()));
    const wokeAt = Date.now();
    process.kill(leader.pid, 'SIGCONT');

    await waitFor('the woken replica to say it does not lead', async () => (await readyz(leader))?.leader?.self === false, { timeoutMs: 10_000, diagnose });
    await sleep(3 * TICK_MS);
    const log = fs.readFileSync(leader.logFile, 'utf8');
    expect(log.split('\n').filter((l) => l.includes('this replica no longer leads')).length).toBe(1);

    // checked in the store: nothing claimed or created by the woken one; every tick once
    const all = await runs();
    const byWoken = all.filter((r) => r.owner_pid === leader.pid && (r.started_at ?? 0) >= wokeAt);
    expect(byWoken).toEqual([]);
    expectEveryTickOnce(all);
    const afterWake = all.filter((r) => r.queued_at >= wokeAt);
    expect(afterWake.length).toBeGreaterThan(0);
    expect(afterWake.every((r) => r.owner_pid === follower.pid || r.owner_pid === null)).toBe(true);
    const dup = await admin.query(`SELECT sink, dedup_key, COUNT(*) AS n FROM outbox GROUP BY sink, dedup_key HAVING COUNT(*) > 1`);
    expect(dup.rows).toEqual([]);

    // the gap's ticks: fired late by the new leader, once each, with the delay recorded
    const gap = all.filter((r) => r.logical_date > lastFired && r.logical_date < takeoverAt - 1_000);
    process.stderr.write(
      `e2e leader: SIGSTOP gap ${takeoverAt - stoppedAt} ms, ${gap.length} tick(s) fired late by ${gap.map((r) => r.queued_at - r.logical_date).join(', ')} ms\n`,
    );
    expect(gap.length).toBeGreaterThanOrEqual(2);
    for (const r of gap) expect(r.queued_at - r.logical_date).toBeGreaterThan(1_000);
    expect(await (await fetch(`${follower.url}/metrics`)).text()).toMatch(/^supervisor_pipeline_schedule_delay_seconds_count\{pipeline="tick"[^}]*\} [1-9]/m);
    // a deadline due in the gap still pages (the new leader), once
    const page = await waitFor('PipelineDeadlineMissed for tick on the webhook', () => receiver.matching(/PipelineDeadlineMissed/)[pagesBefore], { timeoutMs: 30_000, diagnose });
    expect(page.body).toContain('tick');
    await sleep(2_000);
    const delivered = receiver.requests.map((r) => r.dedupKey);
    expect(new Set(delivered).size).toBe(delivered.length);
  }, 180_000);
  it('SIGSTOP the leader while a task runs in it, then SIGCONT: the woken one hands the run over to the leader of its host (its try stopped, retried there); the run ends once, its notification once', async () => {
    const leader = await waitFor('a leader', leaderOf, { timeoutMs: 20_000, diagnose });
    const follower = replicas.find((p) => p !== leader && p.child.exitCode === null && p.child.signalCode === null)!;
    const date = '2026-04-01T00:00:00.000Z';
    expect((await cli(path.join(dirs[0]!, 'supervisor.yaml'), ['pipelines', 'trigger', 'handover', '--logical-date', date])).code).toBe(0);
    const firstTryPid = await waitFor(
      'the first try of `slow` to run in the leader',
      async () => (fs.existsSync(handoverMarker) ? Number(fs.readFileSync(handoverMarker, 'utf8')) || undefined : undefined),
      {
        timeoutMs: 20_000,
        diagnose,
      },
    );
    const run = (await admin.query(`SELECT id, owner FROM runs WHERE pipeline = 'handover'`)).rows[0] as { id: string; owner: string };
    expect(run.owner).toBe((await readyz(leader))!.leader!.holder);

    process.kill(leader.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('the follower to take over', async () => (await readyz(follower))?.leader?.self === true, { timeoutMs: 20_000, intervalMs: 100, diagnose });
    // the new leader leaves the stopped one's run alone: its pid is alive on this host
    expect((await admin.query(`SELECT state, owner FROM runs WHERE id = $1`, [run.id])).rows[0]).toEqual({ state: 'running', owner: run.owner });
    await sleep(Math.max(0, stoppedAt + 14_000 - Date.now()));
    process.kill(leader.pid, 'SIGCONT');

    await waitFor('the handed-over run to succeed', async () => (await admin.query(`SELECT state FROM runs WHERE id = $1`, [run.id])).rows[0]?.state === 'success', {
      timeoutMs: 40_000,
      diagnose,
    });
    const ofDate = (await admin.query(`SELECT id, owner FROM runs WHERE pipeline = 'handover' AND logical_date = $1`, [Date.parse(date)])).rows;
    expect(ofDate).toEqual([{ id: run.id, owner: (await readyz(follower))!.leader!.holder }]);
    // the first try was stopped by the woken replica and recorded with the reason; the second ran on the leader
    const attempts = (await admin.query(`SELECT try_number, state, error FROM task_attempts WHERE run_id = $1 AND task_id = 'slow' ORDER BY try_number`, [run.id])).rows;
    expect(attempts.map((a) => [Number(a.try_number), a.state])).toEqual([
      [1, 'failed'],
      [2, 'success'],
    ]);
    expect(String(attempts[0].error)).toContain('handed over to the leader');
    expect(pidAlive(firstTryPid)).toBe(false);
    expect(fs.readFileSync(leader.logFile, 'utf8')).toContain('handing the run over to the leader');
    // the notification after it: once
    await waitFor('the notification of the handed-over run', () => receiver.requests.find((r) => r.body.includes('the handed-over run finished')), { timeoutMs: 20_000, diagnose });
    await sleep(2_000);
    expect(receiver.requests.filter((r) => r.body.includes('the handed-over run finished'))).toHaveLength(1);
    const dup = await admin.query(`SELECT sink, dedup_key, COUNT(*) AS n FROM outbox GROUP BY sink, dedup_key HAVING COUNT(*) > 1`);
    expect(dup.rows).toEqual([]);
  }, 180_000);
  it('SIGSTOP the leader while an ingestion try runs on a worker, then SIGCONT: the hand-over leaves the try running and the new leader adopts it (one attempt, one process); the notification after it once', async () => {
    const leader = await waitFor('a leader', leaderOf, { timeoutMs: 20_000, diagnose });
    const follower = replicas.find((p) => p !== leader && p.child.exitCode === null && p.child.signalCode === null)!;
    const date = '2026-05-01T00:00:00.000Z';
    const before = new Set(ingestStarts().map((m) => m.pid));
    const notices = () => receiver.requests.filter((r) => r.body.includes('ingestion of the failover drill finished')).length;
    const noticesBefore = notices();
    expect((await cli(path.join(dirs[0]!, 'supervisor.yaml'), ['pipelines', 'trigger', 'ingest', '--logical-date', date])).code).toBe(0);
    const run = await waitFor(
      'the ingestion try to run on a worker',
      async () => {
        const r = (
          await admin.query(`SELECT r.id FROM runs r JOIN task_queue q ON q.run_id = r.id WHERE r.pipeline = 'ingest' AND r.logical_date = $1 AND q.state = 'claimed'`, [
            Date.parse(date),
          ])
        ).rows[0] as { id: string } | undefined;
        return r && ingestStarts().some((m) => !before.has(m.pid)) ? r : undefined;
      },
      { timeoutMs: 30_000, diagnose },
    );
    const ingestPid = ingestStarts().find((m) => !before.has(m.pid))!.pid;

    process.kill(leader.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('the follower to take over', async () => (await readyz(follower))?.leader?.self === true, { timeoutMs: 20_000, intervalMs: 100, diagnose });
    await sleep(Math.max(0, stoppedAt + 12_000 - Date.now()));
    process.kill(leader.pid, 'SIGCONT');

    await waitFor('the ingestion run to succeed', async () => (await admin.query(`SELECT state FROM runs WHERE id = $1`, [run.id])).rows[0]?.state === 'success', {
      timeoutMs: INGEST_MS + 40_000,
      diagnose,
    });
    // one row for the date, one attempt of the ingestion (the try ran once, on its worker), one process
    expect((await admin.query(`SELECT id FROM runs WHERE pipeline = 'ingest' AND logical_date = $1`, [Date.parse(date)])).rows).toHaveLength(1);
    const attempts = (await admin.query(`SELECT try_number, state FROM task_attempts WHERE run_id = $1 AND task_id = 'run_full_ingestion'`, [run.id])).rows;
    expect(attempts.map((a) => [Number(a.try_number), a.state])).toEqual([[1, 'success']]);
    expect(ingestStarts().filter((m) => !before.has(m.pid))).toEqual([{ tryNumber: 1, pid: ingestPid }]);
    await waitFor('the notification of the ingestion run', async () => notices() > noticesBefore || undefined, { timeoutMs: 20_000, diagnose });
    await sleep(2_000);
    expect(notices()).toBe(noticesBefore + 1);
    const dup = await admin.query(`SELECT sink, dedup_key, COUNT(*) AS n FROM outbox GROUP BY sink, dedup_key HAVING COUNT(*) > 1`);
    expect(dup.rows).toEqual([]);
  }, 180_000);
});
