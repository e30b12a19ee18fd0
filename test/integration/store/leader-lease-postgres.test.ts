/**
 * The leader lease on the real PostgreSQL (the stack's server, a fresh database): two replicas'
 * connections (two store facades, each its own worker thread and session), the store's own
 * clock for expiry (a short lease, real time), epochs, release, and the fence refusing a
 * deposed term's write inside its transaction. The drills with real processes are in
 * test/e2e/leader-failover.test.ts.
 */
import { isSupervisorError } from '../../../src/protocol';
import { openDatabase } from '../../../src/store/database';
import { createLeaseStore } from '../../../src/store/leader';
import type { SqlDatabase } from '../../../src/store/sql';
import { fenced } from '../../../src/wiring/leadership';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('leader lease on PostgreSQL', () => {
  let fresh: FreshPostgres;
  let a: SqlDatabase;
  let b: SqlDatabase;

  beforeAll(async () => {
    await ensureServices(['postgres']);
    fresh = await createFreshPostgres('lease');
    a = openDatabase({ store: fresh.settings });
    b = openDatabase({ store: fresh.settings });
    a.exec('CREATE TABLE fenced_writes (v TEXT NOT NULL)');
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    a?.close();
    b?.close();
    await fresh?.drop();
  });

  it('elects one holder, expires by the store clock, takes over with the next epoch, fences the old term, releases at once', async () => {
    // the process clock is deliberately wrong by an hour: PostgreSQL's clock decides
    const skewed = () => Date.now() - 3_600_000;
    const leaseA = createLeaseStore({ db: a, now: skewed });
    const leaseB = createLeaseStore({ db: b, now: () => Date.now() + 3_600_000 });
    const first = leaseA.elect('a', 1_500);
    expect(first).toMatchObject({ held: true, epoch: 1, newTerm: true });
    const refused = leaseB.elect('b', 1_500);
    expect(refused).toMatchObject({ held: false, current: { holder: 'a', epoch: 1 } });
    if (refused.held) throw new Error('unreachable');
    // expiry in the store's time, about 1.5 s from the election (not an hour off)
    expect(Math.abs(refused.current!.expiresAt - refused.now - 1_500)).toBeLessThan(1_000);
    expect(leaseA.renew('a', 1, 1_500)).toBe(true);
    expect(fenced(a, leaseA, { holder: 'a', epoch: 1 }, () => a.prepare('INSERT INTO fenced_writes (v) VALUES (?)').run('a1').changes)).toBe(1);

    await sleep(1_700);
    const takeover = leaseB.elect('b', 10_000);
    expect(takeover).toMatchObject({ held: true, epoch: 2, newTerm: true, previous: { holder: 'a', epoch: 1 } });
    expect(leaseA.renew('a', 1, 1_500)).toBe(false);
    let code: string | undefined;
    try {
      fenced(a, leaseA, { holder: 'a', epoch: 1 }, () => a.prepare('INSERT INTO fenced_writes (v) VALUES (?)').run('a-late'));
    } catch (err) {
      code = isSupervisorError(err) ? err.code : String(err);
    }
    expect(code).toBe('SUP_ERR_NOT_LEADER');
    fenced(b, leaseB, { holder: 'b', epoch: 2 }, () => b.prepare('INSERT INTO fenced_writes (v) VALUES (?)').run('b1'));
    expect((a.prepare('SELECT v FROM fenced_writes ORDER BY v').all() as Array<{ v: string }>).map((r) => r.v)).toEqual(['a1', 'b1']);

    expect(leaseB.release('b', 2)).toBe(true);
    expect(leaseA.elect('a', 10_000)).toMatchObject({ held: true, epoch: 3 });
    expect(leaseA.read()).toMatchObject({ holder: 'a', epoch: 3 });
  });
});
