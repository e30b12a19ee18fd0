/**
 * The leader lease on SQLite when the holder's process is gone (replicas of one host sharing
 * the file): a follower that finds the holder id naming this host and a pid that is not
 * running takes the term over at once with the next epoch, instead of waiting for the expiry.
 * Real processes for the pids (one that exited, a zombie, a live one); fake clocks for the lease.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../../../src/store/database';
import { createLeaseStore } from '../../../src/store/leader';
import type { Clock } from '../../../src/protocol';
import { createLeaseLeadership, holderProcessGone } from '../../../src/wiring/leadership';
import { recordingLogger } from '../../helpers/recording-logger';

const LEASE = 10_000;

/** The pid of a process that ran and was reaped. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('holderProcessGone', () => {
  it('true only for this host, a pid that is not running or a zombie; false for live, other hosts, our own pid, and other ids', async () => {
    const host = os.hostname();
    expect(holderProcessGone(`${host}:${deadPid()}:0a1b2c3d`)).toBe(true);
    expect(holderProcessGone(`${host}:${process.pid}:0a1b2c3d`)).toBe(false);
    expect(holderProcessGone(`other-host:${deadPid()}:0a1b2c3d`)).toBe(false);
    expect(holderProcessGone(`${host}:${process.ppid}:0a1b2c3d`)).toBe(false);
    expect(holderProcessGone('not a holder id')).toBe(false);
    expect(holderProcessGone(null)).toBe(false);

    // a zombie: `sleep 0` exits under a parent (exec'd `sleep 3`) that never reaps it
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 3'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (c: Buffer) => resolve(c.toString().trim()))));
      await new Promise((r) => setTimeout(r, 200));
      expect(fs.readFileSync(`/proc/${zombie}/stat`, 'utf8')).toMatch(/\) Z /);
      expect(holderProcessGone(`${host}:${zombie}:0a1b2c3d`)).toBe(true);
      expect(holderProcessGone(`${host}:${parent.pid}:0a1b2c3d`)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('leadership on SQLite: a holder whose process is gone', () => {
  let db: Database.Database;
  let storeNow: number;
  const clock: Clock = { now: () => storeNow, sleep: () => Promise.resolve() };
  beforeEach(() => {
    db = new Database(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sup-lease-dead-')), 'state.db'));
    migrate(db);
    storeNow = 1_700_000_000_000;
  });
  afterEach(() => db.close());

  const make = (id: string, logger = recordingLogger()) =>
    createLeaseLeadership({ db, clock, logger, leaseMs: LEASE, renewIntervalMs: 3_600_000, id, storeNow: () => storeNow, monotonic: () => 0 });

  it('is taken over at once, with the next epoch, though its lease has not expired; its fenced term is over', async () => {
    const lease = createLeaseStore({ db, now: () => storeNow });
    const dead = `${os.hostname()}:${deadPid()}:0a1b2c3d`;
    expect(lease.elect(dead, LEASE)).toMatchObject({ held: true, epoch: 1 });
    storeNow += 1_000; // 9 s of the lease left

    const logger = recordingLogger();
    const b = make(`${os.hostname()}:${process.pid}:b0b0b0b0`, logger);
    await b.start();
    expect(b.isLeader()).toBe(true);
    expect(b.epoch()).toBe(2);
    expect(lease.read()).toMatchObject({ holder: b.id, epoch: 2, expiresAt: storeNow + LEASE });
    expect(lease.fence(dead, 1)).toBe(false);
    expect(logger.lines.some((l) => l.msg === 'this replica now leads')).toBe(true);
    await b.stop();
  });

  it('is not taken over early when the holder is alive, or on another host: the follower waits for the expiry', async () => {
    const lease = createLeaseStore({ db, now: () => storeNow });
    const live = `${os.hostname()}:${process.ppid}:0a1b2c3d`;
    expect(lease.elect(live, LEASE)).toMatchObject({ held: true, epoch: 1 });
    const b = make(`${os.hostname()}:${process.pid}:b0b0b0b0`);
    await b.start();
    expect(b.isLeader()).toBe(false);
    expect(b.status()).toMatchObject({ holder: live, epoch: 1 });

    // another host's holder: its pid means nothing here
    storeNow += LEASE;
    const remote = `elsewhere.example:${deadPid()}:0a1b2c3d`;
    expect(lease.elect(remote, LEASE)).toMatchObject({ held: true, epoch: 2 });
    const c = make(`${os.hostname()}:${process.pid}:c0c0c0c0`);
    await c.start();
    expect(c.isLeader()).toBe(false);
    storeNow += LEASE;
    (c as unknown as { cycle(): void }).cycle();
    expect(c.epoch()).toBe(3);
    await b.stop();
    await c.stop();
  });

  it('the takeover is of that one term: a holder that renewed into a new term meanwhile is not replaced by the stale judgement', () => {
    const lease = createLeaseStore({ db, now: () => storeNow });
    const dead = `${os.hostname()}:${deadPid()}:0a1b2c3d`;
    lease.elect(dead, LEASE);
    storeNow += LEASE;
    // someone else took term 2 after the expiry; a takeover aimed at term 1 finds nothing to take
    expect(lease.elect('x', LEASE)).toMatchObject({ held: true, epoch: 2 });
    expect(lease.elect('b', LEASE, { epoch: 2, takeOver: { holder: dead, epoch: 1 } })).toMatchObject({ held: false, current: { holder: 'x', epoch: 2 } });
    expect(lease.elect('b', LEASE, { epoch: 3, takeOver: { holder: dead, epoch: 1 } })).toMatchObject({ held: false });
    // and an election for a given epoch fails when the term it would make has another one
    storeNow += LEASE;
    expect(lease.elect('b', LEASE, { epoch: 5 })).toMatchObject({ held: false });
    expect(lease.elect('b', LEASE, { epoch: 3 })).toMatchObject({ held: true, epoch: 3, newTerm: true });
  });
});
