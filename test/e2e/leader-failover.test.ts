/**
 * E2E (issue 19, drills about leadership): replicas of `supervisor start` (real processes on
 * loopback ports) sharing one fresh PostgreSQL database of the local stack, with the default
 * lease (10 s, renewed every 2 s).
 *
 * - **SIGKILL the leader.** Another replica leads within 10 s (+ the 2 s of one poll), the cron
 *   ticks of the gap fire late, once each (no logical date missing, none twice), and a deadline
 *   that passed in the gap pages the webhook (PipelineDeadlineMissed), once.
 * - **SIGSTOP the leader past its lease, then SIGCONT it.** Another replica takes over; the
 *   woken one finds itself deposed (logged once) and starts nothing: no run claimed or created
 *   by it after it woke, no logical date twice, no dedup key enqueued twice or delivered twice —
 *   checked in the store and at the webhook.
 *
 * `tick` runs every 3 s (a 2 s task, one run at a time) with a 4 s deadline: while a leader lives
 * every run succeeds in time (no alert); a gap of ~10 s leaves ticks without a run past their
 * deadline, and their late runs, one after the other, stay past it for longer than one probe
 * (a success is never a miss, so a late run that succeeded between two probes would page no one).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from 'pg';
import { createFreshPostgres, type FreshPostgres } from '../helpers/postgres-store';
import { stackTls } from '../../stack/tls';
import { ensureServices } from '../helpers/stack';
import { e2eConfig, ensureBuilt, freePort, sleep, startSupervisor, tempDir, waitFor, WebhookReceiver, writeConfig, type SupervisorProcess } from '../helpers/e2e-supervisor';

const TICK_MS = 3_000;

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
  const dirs: string[] = [];
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
  const diagnose = (): string => `${receiver.summary()}\n${replicas.map((p) => p.tail(25)).join('\n')}`;

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
          tasks: [{ id: 'work', operator: 'command', params: { command: ['sleep', '2'] } }],
        },
      },
    });
    config.store = { url: pg.url, password_file: path.join(dir, 'pg-password'), ssl: { ca_file: stackTls().caFile } };
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
    await receiver.close();
    await pg?.drop();
    tmp.cleanup();
  });

  it('SIGKILL the leader: another replica leads within 10 s, the ticks of the gap fire late once each, a deadline due in the gap pages once', async () => {
    await startReplica(0);
    await startReplica(1);
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
    expect(failoverMs).toBeLessThanOrEqual(12_000);
    expect((await readyz(other))!.leader!.epoch).toBe(epochBefore + 1);

    // the gap's ticks: fired late by the new leader, each once, and they succeed
    await waitFor('runs for the ticks of the gap', async () => (await runs()).filter((r) => r.logical_date > lastFired && r.state === 'success').length >= 3, {
      timeoutMs: 30_000,
      diagnose,
    });
    const all = await runs();
    expectEveryTickOnce(all);
    const gap = all.filter((r) => r.logical_date > lastFired && r.logical_date < killedAt + failoverMs - 1_000);
    expect(gap.length).toBeGreaterThanOrEqual(2);
    // fired late: queued well after their logical date (the delay the schedule delay metric records)
    for (const r of gap) expect(r.queued_at - r.logical_date).toBeGreaterThan(1_000);
    const delay = await (await fetch(`${other.url}/metrics`)).text();
    expect(delay).toMatch(/^supervisor_pipeline_schedule_delay_seconds_count\{pipeline="tick"[^}]*\} [1-9]/m);

    // a deadline due in the gap still pages, once
    const page = await waitFor('PipelineDeadlineMissed for tick on the webhook', () => receiver.matching(/PipelineDeadlineMissed/)[0], { timeoutMs: 30_000, diagnose });
    expect(page.body).toContain('tick');
    await sleep(2_000);
    const firingKeys = receiver.matching(/PipelineDeadlineMissed/).map((h) => h.dedupKey);
    expect(new Set(firingKeys).size).toBe(firingKeys.length);
  }, 180_000);

  it('SIGSTOP the leader past its lease, then SIGCONT: it finds itself deposed and starts nothing (no duplicate run or notification)', async () => {
    // a second follower, so someone takes over while the leader is stopped
    const follower = await startReplica(2);
    const leader = await waitFor('a leader', leaderOf, { timeoutMs: 20_000, diagnose });
    expect(leader).not.toBe(follower);
    const epochBefore = (await readyz(leader))!.leader!.epoch!;

    process.kill(leader.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('the follower to take over', async () => (await readyz(follower))?.leader?.self === true, { timeoutMs: 20_000, intervalMs: 100, diagnose });
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
    const delivered = receiver.requests.map((r) => r.dedupKey);
    expect(new Set(delivered).size).toBe(delivered.length);
  }, 180_000);
});
