import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../../../src/store/database';
import { createLeaseStore } from '../../../src/store/leader';
import { createLeaseLeadership, fenced, type LeaderState } from '../../../src/wiring/leadership';
import { isSupervisorError, type Clock } from '../../../src/protocol';
import { recordingLogger } from '../../helpers/recording-logger';

const LEASE = 10_000;

function freshDb(): Database.Database {
  const db = new Database(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sup-lease-')), 'state.db'));
  migrate(db);
  db.exec('CREATE TABLE fenced_writes (v TEXT NOT NULL)');
  return db;
}

const rows = (db: Database.Database): string[] => (db.prepare('SELECT v FROM fenced_writes ORDER BY rowid').all() as Array<{ v: string }>).map((r) => r.v);
const write = (db: Database.Database, v: string) => () => db.prepare('INSERT INTO fenced_writes (v) VALUES (?)').run(v).changes;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isSupervisorError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('leader lease (SQLite, fake clock)', () => {
  let db: Database.Database;
  let now: number;
  beforeEach(() => {
    db = freshDb();
    now = 1_700_000_000_000;
  });
  afterEach(() => db.close());

  it('elects the first holder at epoch 1, refuses a second one while the lease runs, renews without changing the epoch', () => {
    const lease = createLeaseStore({ db, now: () => now });
    const a = lease.elect('a', LEASE);
    expect(a).toMatchObject({ held: true, epoch: 1, newTerm: true, previous: null, expiresAt: now + LEASE });
    expect(lease.elect('b', LEASE)).toEqual({ held: false, current: { name: 'supervisor', holder: 'a', epoch: 1, expiresAt: now + LEASE }, now });
    now += 5_000;
    expect(lease.renew('a', 1, LEASE)).toBe(true);
    expect(lease.read()).toEqual({ name: 'supervisor', holder: 'a', epoch: 1, expiresAt: now + LEASE });
    // electing again while holding it is a renewal too: same epoch, not a new term
    expect(lease.elect('a', LEASE)).toMatchObject({ held: true, epoch: 1, newTerm: false });
    expect(lease.renew('b', 1, LEASE)).toBe(false);
    expect(lease.renew('a', 2, LEASE)).toBe(false);
  });

  it('after expiry another holder takes over with the next epoch; the old one can neither renew nor pass the fence', () => {
    const lease = createLeaseStore({ db, now: () => now });
    expect(lease.elect('a', LEASE)).toMatchObject({ epoch: 1 });
    now += LEASE - 1;
    expect(lease.elect('b', LEASE).held).toBe(false);
    now += 1; // exactly at expiry
    const b = lease.elect('b', LEASE);
    expect(b).toMatchObject({ held: true, epoch: 2, newTerm: true, previous: { holder: 'a', epoch: 1 } });
    expect(lease.renew('a', 1, LEASE)).toBe(false);
    expect(lease.fence('a', 1)).toBe(false);
    expect(lease.fence('b', 2)).toBe(true);
  });

  it('epochs only grow: a → b → a, a holder back after its own expiry starts a new term, release hands over at once', () => {
    const lease = createLeaseStore({ db, now: () => now });
    const epochs: number[] = [];
    const take = (h: string): void => {
      const r = lease.elect(h, LEASE);
      if (!r.held) throw new Error(`${h} not elected`);
      epochs.push(r.epoch);
    };
    take('a');
    now += LEASE;
    take('b');
    expect(lease.release('b', 2)).toBe(true);
    expect(lease.release('b', 2)).toBe(false); // already ended
    take('a'); // no wait after a release
    now += LEASE;
    take('a'); // its own expired term: a new one
    expect(epochs).toEqual([1, 2, 3, 4]);
    expect(lease.fence('a', 3)).toBe(false);
    expect(lease.fence('a', 4)).toBe(true);
  });

  it('fenced(): the write commits with the term that holds the lease and is refused, writing nothing, after a takeover', () => {
    const lease = createLeaseStore({ db, now: () => now });
    lease.elect('a', LEASE);
    expect(fenced(db, lease, { holder: 'a', epoch: 1 }, write(db, 'a1'))).toBe(1);
    now += LEASE;
    lease.elect('b', LEASE);
    expect(codeOf(() => fenced(db, lease, { holder: 'a', epoch: 1 }, write(db, 'a2')))).toBe('SUP_ERR_NOT_LEADER');
    // an error inside fn rolls the fenced transaction back too
    expect(
      codeOf(() =>
        fenced(db, lease, { holder: 'b', epoch: 2 }, () => {
          write(db, 'b-rolled-back')();
          throw new Error('boom');
        }),
      ),
    ).toBe('Error: boom');
    fenced(db, lease, { holder: 'b', epoch: 2 }, write(db, 'b1'));
    expect(rows(db)).toEqual(['a1', 'b1']);
  });
});

describe('leadership component (SQLite, fake clocks)', () => {
  let db: Database.Database;
  let storeNow: number;
  let monoA: number;
  let monoB: number;
  const clock: Clock = { now: () => storeNow, sleep: () => Promise.resolve() };
  beforeEach(() => {
    db = freshDb();
    storeNow = 1_700_000_000_000;
    monoA = 0;
    monoB = 0;
  });
  afterEach(() => db.close());

  // renewals only when the test says (a long interval: the timer never fires during a test)
  const make = (id: string, mono: () => number, logger = recordingLogger()) =>
    createLeaseLeadership({ db, clock, logger, leaseMs: LEASE, renewIntervalMs: 3_600_000, id, storeNow: () => storeNow, monotonic: mono });

  it('one of two replicas leads; a leader stopped past its lease is deposed: its fenced write fails, it logs once and steps down', async () => {
    const logA = recordingLogger();
    const a = make('a', () => monoA, logA);
    const b = make('b', () => monoB);
    const statesA: LeaderState[] = [];
    a.leader$.subscribe((s) => statesA.push(s));
    await a.start();
    await b.start();
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect(a.status()).toMatchObject({ self: true, holder: 'a', epoch: 1 });
    expect(b.status()).toMatchObject({ self: false, holder: 'a', epoch: 1 });
    a.fenced(write(db, 'a1'));
    expect(codeOf(() => b.fenced(write(db, 'b-refused')))).toBe('SUP_ERR_NOT_LEADER');

    // A is frozen (SIGSTOP): the store's time passes, A's own clock did not see it; B takes over
    storeNow += LEASE + 1;
    (b as unknown as { cycle(): void }).cycle();
    expect(b.isLeader()).toBe(true);
    expect(b.epoch()).toBe(2);
    // A wakes (SIGCONT) and tries a leader-only write before any renewal
    expect(codeOf(() => a.fenced(write(db, 'a-late')))).toBe('SUP_ERR_NOT_LEADER');
    expect(a.isLeader()).toBe(false);
    expect(codeOf(() => a.fenced(write(db, 'a-later')))).toBe('SUP_ERR_NOT_LEADER');
    b.fenced(write(db, 'b1'));
    expect(rows(db)).toEqual(['a1', 'b1']);
    expect(statesA).toEqual([
      { leader: false, epoch: null },
      { leader: true, epoch: 1 },
      { leader: false, epoch: null },
    ]);
    expect(logA.lines.filter((l) => l.msg.includes('no longer leads'))).toHaveLength(1);
    await a.stop();
    await b.stop();
  });

  it('steps down by its own clock when the lease may have run out without a renewal, and a clean stop releases the lease for the next replica', async () => {
    const a = make('a', () => monoA);
    const b = make('b', () => monoB);
    await a.start();
    await b.start();
    expect(a.isLeader()).toBe(true);
    monoA += LEASE; // no renewal for a whole lease (an unreachable store)
    expect(a.isLeader()).toBe(false);
    expect(codeOf(() => a.fenced(write(db, 'x')))).toBe('SUP_ERR_NOT_LEADER');
    await a.stop();

    const c = make('c', () => 0);
    await c.start();
    expect(c.isLeader()).toBe(false); // a's lease is still in the store (a did not lead any more at its stop)
    await c.stop();

    const d = make('d', () => 0);
    const e = make('e', () => 0);
    storeNow += LEASE;
    await d.start();
    expect(d.epoch()).toBe(2);
    await d.stop(); // releases
    await e.start();
    expect(e.epoch()).toBe(3); // at once, no wait for the expiry
    await e.stop();
    await b.stop();
  });
});
