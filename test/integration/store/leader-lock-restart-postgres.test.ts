/**
 * The leader lease's advisory lock across a PostgreSQL restart: every session ends with the
 * server, the leader's included, so after the restart a follower can get the leader's key though
 * the leader is alive. A free key then proves nothing until the leader has renewed since the
 * server started (src/wiring/leadership.ts): the follower lets go, the leader takes its key
 * again, and keeps its term. No new epoch, no change of leader.
 *
 * A private PostgreSQL cluster (Debian's binaries, as stack/services/postgres.ts runs them: its
 * own data folder under a temp dir, its own loopback port, TCP only, trust logins) so the shared
 * stack's server is never restarted; ensureServices(['postgres']) installs the binaries.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PostgresStoreSettings } from '../../../src/config/store';
import { systemClock } from '../../../src/shared/clock';
import { openDatabase } from '../../../src/store/database';
import { leaseLockKey } from '../../../src/store/postgres/lease-lock';
import type { SqlDatabase } from '../../../src/store/sql';
import { createLeaseLeadership, type Leadership } from '../../../src/wiring/leadership';
import { freePort } from '../../helpers/e2e-supervisor';
import { PrivateCluster } from '../../helpers/private-postgres';
import { recordingLogger } from '../../helpers/recording-logger';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(120_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('leader lease lock across a PostgreSQL restart (private cluster)', () => {
  let dir: string;
  let cluster: PrivateCluster;
  const dbs: SqlDatabase[] = [];
  const replicas: Leadership[] = [];

  beforeAll(async () => {
    // the stack's PostgreSQL service installs Debian's server binaries this test runs
    await ensureServices(['postgres']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-lease-restart-'));
    cluster = new PrivateCluster(dir, await freePort());
    cluster.init();
    await cluster.start();
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    for (const db of dbs) db.close();
    await cluster?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the leader keeps its term: the follower does not take the key the restart freed, the leader takes it again', async () => {
    const settings: PostgresStoreSettings = {
      kind: 'postgres',
      host: '127.0.0.1',
      port: cluster.port,
      database: 'postgres',
      user: 'postgres',
      timeoutMs: 3_000,
      display: `postgres://postgres@127.0.0.1:${cluster.port}/postgres`,
    };
    const replica = (): Leadership => {
      const db = openDatabase({ store: settings });
      dbs.push(db);
      const r = createLeaseLeadership({ db, clock: systemClock, logger: recordingLogger(), leaseMs: 10_000, renewIntervalMs: 2_000 });
      replicas.push(r);
      return r;
    };
    const leader = replica();
    await leader.start();
    expect(leader.isLeader()).toBe(true);
    const epoch = leader.epoch()!;
    const follower = replica();
    await follower.start();
    expect(follower.isLeader()).toBe(false);

    /** Who holds the key of `epoch` (granted) and who waits for it. */
    const key = async (): Promise<{ granted: number; waiting: number }> => {
      const rows = await cluster.query<{ granted: boolean; n: number }>(
        `SELECT granted, count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND classid = $1::int8::oid AND objid = $2::int8::oid GROUP BY granted`,
        [leaseLockKey('supervisor'), epoch],
      );
      return { granted: rows.find((r) => r.granted)?.n ?? 0, waiting: rows.find((r) => !r.granted)?.n ?? 0 };
    };
    // the leader holds its key, the follower waits on it
    await until(
      'the follower to wait on the key',
      async () => {
        const k = await key();
        return k.granted === 1 && k.waiting === 1;
      },
      5_000,
    );

    await cluster.stop();
    await sleep(500);
    await cluster.start();

    // long enough for both to reconnect and for a few tries of the follower (every 2 s)
    let followerLed = false;
    const end = Date.now() + 8_000;
    while (Date.now() < end) {
      followerLed ||= follower.isLeader();
      await sleep(50);
    }
    expect(followerLed).toBe(false);
    expect(leader.isLeader()).toBe(true);
    expect(leader.epoch()).toBe(epoch);
    expect(await key()).toEqual({ granted: 1, waiting: 1 });
    expect((await cluster.query<{ holder: string; epoch: string }>(`SELECT holder, epoch::text AS epoch FROM leader`))[0]).toEqual({ holder: leader.id, epoch: String(epoch) });
  });
});
