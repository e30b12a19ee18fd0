/**
 * Leader failover on the real PostgreSQL (the stack's server, a fresh database): the advisory
 * lock fast path of src/wiring/leadership.ts and src/store/postgres/lease-lock.ts.
 *
 * The leader under test runs alone in a child process (test/fixtures/leader/replica.ts, its own
 * store facade and lock session) so it can be SIGKILLed, SIGSTOPped and SIGTERMed; followers
 * run in this process, each with its own store facade. The default lease (10 s, renewed every
 * 2 s) unless a test says otherwise: a SIGKILLed leader must be replaced long before the lease
 * could expire, a SIGSTOPped one only after it does.
 *
 * The e2e drills with whole daemons are test/e2e/leader-failover.test.ts; the lease's SQL alone
 * is test/integration/store/leader-lease-postgres.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from 'pg';
import { systemClock } from '../../../src/shared/clock';
import { openDatabase } from '../../../src/store/database';
import { leaseLockKey } from '../../../src/store/postgres/lease-lock';
import type { SqlDatabase } from '../../../src/store/sql';
import { createLeaseLeadership, type Leadership } from '../../../src/wiring/leadership';
import { stackTls } from '../../../stack/tls';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { recordingLogger } from '../../helpers/recording-logger';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(90_000);

const ROOT = path.resolve(__dirname, '../../..');
const REPLICA = path.join(ROOT, 'test/fixtures/leader/replica.ts');
const LEASE = 10_000;
const RENEW = 2_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, intervalMs = 20): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

interface ReplicaLine {
  event: 'state' | 'started' | 'stopped';
  leader?: boolean;
  epoch?: number | null;
  id: string;
  at: number;
}

/** The leader (or not) in a child process, with what it printed. */
class ChildReplica {
  readonly child: ChildProcess;
  readonly lines: ReplicaLine[] = [];
  readonly exited: Promise<void>;
  stderr = '';

  constructor(fresh: FreshPostgres, leaseMs: number, renewMs: number) {
    const { ssl: _ssl, ...settings } = fresh.settings;
    // `node --import tsx`, not the tsx wrapper: the signals must hit the replica itself
    this.child = spawn(process.execPath, ['--import', 'tsx', REPLICA], {
      cwd: ROOT,
      env: { ...process.env, LEADER_STORE: JSON.stringify({ ...settings, caFile: stackTls().caFile }), LEADER_LEASE_MS: String(leaseMs), LEADER_RENEW_MS: String(renewMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    this.child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        this.lines.push(JSON.parse(out.slice(0, i)) as ReplicaLine);
        out = out.slice(i + 1);
      }
    });
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get id(): string | undefined {
    return this.lines[0]?.id;
  }

  /** The epoch it leads with (once it does). */
  async leads(timeoutMs = 30_000): Promise<number> {
    const line = await until('the child replica to lead', () => this.lines.find((l) => l.event === 'state' && l.leader), timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.stderr}`);
    });
    return line.epoch!;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

describe('leader failover on PostgreSQL (advisory lock fast path)', () => {
  let fresh: FreshPostgres;
  let admin: Client;
  const dbs: SqlDatabase[] = [];
  const followers: Leadership[] = [];
  const children: ChildReplica[] = [];

  beforeAll(async () => {
    await ensureServices(['postgres']);
    fresh = await createFreshPostgres('failover');
    // migrated once here, so the replicas do not race for it
    dbs.push(openDatabase({ store: fresh.settings }));
    admin = await fresh.admin();
  }, STACK_TIMEOUT_MS);

  afterEach(async () => {
    await Promise.all(followers.splice(0).map((f) => f.stop()));
    for (const c of children.splice(0)) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
      await c.exited;
    }
    for (const db of dbs.splice(1)) db.close();
    // the next test starts with no lease
    await admin.query('DELETE FROM leader');
  });

  afterAll(async () => {
    for (const db of dbs.splice(0)) db.close();
    await fresh?.drop();
  });

  const startChild = (leaseMs = LEASE, renewMs = RENEW): ChildReplica => {
    const c = new ChildReplica(fresh, leaseMs, renewMs);
    children.push(c);
    return c;
  };

  const startFollower = async (leaseMs = LEASE, renewMs = RENEW): Promise<Leadership> => {
    const db = openDatabase({ store: fresh.settings });
    dbs.push(db);
    const f = createLeaseLeadership({ db: db, clock: systemClock, logger: recordingLogger(), leaseMs, renewIntervalMs: renewMs });
    followers.push(f);
    await f.start();
    return f;
  };

  const leaseRow = async (): Promise<{ holder: string; epoch: number; expires_at: number; now: number }> =>
    (
      await admin.query(
        `SELECT holder, epoch::float8 AS epoch, expires_at::float8 AS expires_at, (extract(epoch from clock_timestamp()) * 1000)::float8 AS now FROM leader WHERE name = 'supervisor'`,
      )
    ).rows[0];

  /** The epochs whose advisory key some session holds (granted), with the holding backend. */
  const heldKeys = async (): Promise<Array<{ epoch: number; pid: number }>> =>
    (
      await admin.query(
        `SELECT objid::int8::float8 AS epoch, pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::int8::oid AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY objid`,
        [leaseLockKey('supervisor')],
      )
    ).rows;

  it('SIGKILL the leader: a follower leads within 3 s (the lease had ~8 s left) with the next epoch; the follower that lost the race holds no key', async () => {
    const a = startChild();
    const epoch = await a.leads();
    const b = await startFollower();
    const c = await startFollower();
    expect(b.isLeader() || c.isLeader()).toBe(false);
    expect(b.status()).toMatchObject({ self: false, holder: a.id, epoch });
    expect(await heldKeys()).toEqual([{ epoch, pid: expect.any(Number) }]);
    // after a renewal or two, at a random point of the renewal cycle
    await sleep(2_500 + Math.random() * 2_000);

    const row = await leaseRow();
    const t0 = performance.now();
    a.kill('SIGKILL');
    const winner = await until('a follower to lead', () => [b, c].find((f) => f.isLeader()), 10_000, 10);
    const failoverMs = performance.now() - t0;
    const loser = winner === b ? c : b;

    expect(failoverMs).toBeLessThan(3_000);
    // well before the lease could have run out
    expect(row.expires_at - row.now).toBeGreaterThan(failoverMs + 2_000);
    expect(winner.epoch()).toBe(epoch + 1);
    expect(await leaseRow()).toMatchObject({ holder: winner.id, epoch: epoch + 1 });
    // the loser let go of the dead term's key and waits on the new one, holding nothing
    await sleep(300);
    expect(loser.isLeader()).toBe(false);
    expect(loser.status()).toMatchObject({ holder: winner.id, epoch: epoch + 1 });
    expect((await heldKeys()).map((k) => k.epoch)).toEqual([epoch + 1]);
  });

  it('SIGSTOP the leader: its key is not taken early, a follower leads only after the lease expires; SIGCONT: the old leader steps down and lets go of its key', async () => {
    const lease = 4_000;
    const renew = 1_000;
    const a = startChild(lease, renew);
    const epoch = await a.leads();
    const b = await startFollower(lease, renew);
    await sleep(1_500);

    a.kill('SIGSTOP');
    const stoppedAt = await leaseRow();
    await until('the follower to lead', () => b.isLeader(), lease + 5_000, 10);
    const takeover = await leaseRow();

    // B's term began at or after A's last expiry (store clock): the lease ran out, nothing earlier
    expect(takeover.expires_at - lease).toBeGreaterThanOrEqual(stoppedAt.expires_at);
    expect(b.epoch()).toBe(epoch + 1);
    // the stopped leader's session still held its key when B took over
    const keys = await heldKeys();
    expect(keys.map((k) => k.epoch)).toEqual([epoch, epoch + 1]);

    a.kill('SIGCONT');
    await until('the old leader to step down', () => a.lines.filter((l) => l.event === 'state' && l.leader === false).length === 2, 10_000);
    await until("the old leader's key to be released", async () => (await heldKeys()).every((k) => k.epoch !== epoch), 5_000);
    expect(b.isLeader()).toBe(true);
    expect(await leaseRow()).toMatchObject({ holder: b.id, epoch: epoch + 1 });
  });

  it('SIGTERM the leader: it releases the lease and a follower leads at once', async () => {
    const a = startChild();
    const epoch = await a.leads();
    const b = await startFollower();
    await sleep(1_000 + Math.random() * 2_000);
    const t0 = performance.now();
    a.kill('SIGTERM');
    await until('the follower to lead', () => b.isLeader(), 10_000, 10);
    expect(performance.now() - t0).toBeLessThan(1_500);
    expect(b.epoch()).toBe(epoch + 1);
    await a.exited;
    expect(a.lines.some((l) => l.event === 'stopped')).toBe(true);
    expect(a.child.exitCode).toBe(0);
  });

  it('a leader that loses only its lock session takes its key again and keeps its term; with a follower waiting, the follower takes over and the old leader steps down', async () => {
    const l = await startFollower();
    await until('the first replica to lead', () => l.isLeader(), 5_000);
    const epoch = l.epoch()!;
    const [key] = await heldKeys();
    expect(key?.epoch).toBe(epoch);

    // alone: the session is terminated, the leader takes its key again on a new session
    await admin.query('SELECT pg_terminate_backend($1)', [key!.pid]);
    const again = await until('the key to be held again', async () => (await heldKeys()).find((k) => k.epoch === epoch && k.pid !== key!.pid), 5_000);
    expect(again.epoch).toBe(epoch);
    expect(l.isLeader()).toBe(true);
    expect(l.epoch()).toBe(epoch);

    // with a follower waiting on the key: it gets the key first and takes the term over
    const f = await startFollower();
    await sleep(300);
    const t0 = performance.now();
    await admin.query('SELECT pg_terminate_backend($1)', [again.pid]);
    await until('the follower to lead', () => f.isLeader(), 5_000, 10);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(f.epoch()).toBe(epoch + 1);
    await until('the old leader to step down', () => !l.isLeader(), RENEW + 2_000);
    expect(await leaseRow()).toMatchObject({ holder: f.id, epoch: epoch + 1 });
    expect((await heldKeys()).map((k) => k.epoch)).toEqual([epoch + 1]);
  });

  it('stop() closes the lock session: no session of the lease is left on the server', async () => {
    const l = await startFollower();
    const f = await startFollower();
    await until('one to lead', () => l.isLeader() || f.isLeader(), 5_000);
    await sleep(200);
    const sessions = async (): Promise<number> =>
      Number(
        (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pipeline-supervisor lease'`)).rows[0].n,
      );
    expect(await sessions()).toBe(2);
    await Promise.all(followers.splice(0).map((x) => x.stop()));
    await until('the lease sessions to end', async () => (await sessions()) === 0, 5_000);
    expect(await heldKeys()).toEqual([]);
  });
});
