/**
 * Outbox claims (replicas sharing a store): due entries are claimed per replica, so two
 * replicas' workers never deliver one entry at once; a claim ends with the outcome, or expires
 * (a crashed replica). Run here on SQLite with claims on (the statement PostgreSQL runs, without
 * its SKIP LOCKED); test/e2e/leader-failover.test.ts runs it on PostgreSQL with real replicas.
 */
import type Database from 'better-sqlite3';
import { createSqliteOutboxStore, OUTBOX_CLAIM_BATCH, OUTBOX_CLAIM_MS } from '../../../src/store/outbox';
import type { Notification } from '../../../src/protocol';
import { openAlertDb, tempDbPath } from '../../helpers/alert-db';

const note = (dedupKey: string): Notification => ({ dedupKey, kind: 'firing', title: dedupKey, text: dedupKey }) as unknown as Notification;

describe('outbox claims', () => {
  const tmp = tempDbPath('outbox-claims-');
  let db: Database.Database;
  beforeEach(() => {
    db = openAlertDb(tmp.file + Math.random());
  });
  afterEach(() => db.close());
  afterAll(() => tmp.cleanup());

  it('an entry claimed by one replica is not due for another until delivered or the claim expires', () => {
    const a = createSqliteOutboxStore(db, { claims: true, claimer: 'a' });
    const b = createSqliteOutboxStore(db, { claims: true, claimer: 'b' });
    const now = 1_000_000;
    a.enqueue(note('k1'), ['hook'], now);
    a.enqueue(note('k2'), ['hook'], now + 1);
    expect(a.due(now + 10, 50, 'hook').map((e) => e.dedupKey)).toEqual(['k1', 'k2']);
    expect(b.due(now + 10, 50, 'hook')).toEqual([]);
    // b waits for a's claim to end (no spinning on entries it cannot take)
    expect(b.nextDueAt('hook')).toBe(now + 10 + OUTBOX_CLAIM_MS);
    // a's own claim stays takeable by a (a lane that stopped half-way resumes)
    expect(a.due(now + 20, 50, 'hook').map((e) => e.dedupKey)).toEqual(['k1', 'k2']);
    const [k1, k2] = a.due(now + 30, 50, 'hook');
    a.markDelivered(k1!.id, now + 40);
    a.markRetry(k2!.id, now + 1_000, 'boom');
    // the retry released the claim: due for whoever comes first at its time
    expect(b.nextDueAt('hook')).toBe(now + 1_000);
    expect(b.due(now + 1_000, 50, 'hook').map((e) => e.dedupKey)).toEqual(['k2']);
    expect(a.due(now + 1_000, 50, 'hook')).toEqual([]);
    // b crashes: its claim expires, then a takes the entry
    expect(a.due(now + 1_000 + OUTBOX_CLAIM_MS, 50, 'hook').map((e) => e.dedupKey)).toEqual(['k2']);
    expect(a.stats()).toEqual({ pending: 1, delivered: 1, dead: 0 });
  });

  it('a claim takes at most a small batch (each entry may take a delivery timeout within the claim)', () => {
    const a = createSqliteOutboxStore(db, { claims: true, claimer: 'a' });
    const b = createSqliteOutboxStore(db, { claims: true, claimer: 'b' });
    for (let i = 0; i < OUTBOX_CLAIM_BATCH + 5; i++) a.enqueue(note(`k${String(i).padStart(2, '0')}`), ['hook'], 100 + i);
    expect(a.due(1_000, 50, 'hook')).toHaveLength(OUTBOX_CLAIM_BATCH);
    expect(b.due(1_000, 50, 'hook').map((e) => e.dedupKey)).toEqual(['k10', 'k11', 'k12', 'k13', 'k14']);
  });

  it('without claims (a SQLite store, one daemon) due entries are read as before', () => {
    const a = createSqliteOutboxStore(db);
    a.enqueue(note('k1'), ['hook'], 5);
    expect(a.due(10, 50, 'hook')).toHaveLength(1);
    expect(a.due(10, 50, 'hook')).toHaveLength(1);
    expect(a.nextDueAt('hook')).toBe(5);
  });
});
