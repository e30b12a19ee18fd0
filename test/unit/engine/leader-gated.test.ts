/**
 * Two replicas' engines on one store (SQLite file, two connections), each with its lease
 * leadership and leader-only roles, on one fake clock: only the leader fires cron ticks and
 * dispatches; a leader that stops renewing and wakes late creates nothing (its fenced write is
 * refused, it steps down, logged once); the new leader fires the ticks of the gap late, once each.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../../../src/config/schema';
import { createEngine, type Engine } from '../../../src/engine/engine';
import type { Operator } from '../../../src/engine/operator';
import { openDatabase } from '../../../src/store/database';
import type { RunEvent } from '../../../src/protocol';
import { createLeaseLeadership, type Leadership } from '../../../src/wiring/leadership';
import { createLeaderRoles, type LeaderRoles } from '../../../src/wiring/leader-roles';
import { recordingLogger } from '../../helpers/recording-logger';
import { createFakeClock } from './fake-clock';

const LEASE = 10_000;
const ok: Operator = async () => ({});
const iso = (t: number): string => new Date(t).toISOString();

interface Replica {
  name: string;
  engine: Engine;
  leadership: Leadership;
  roles: LeaderRoles;
  events: RunEvent[];
  logger: ReturnType<typeof recordingLogger>;
  db: ReturnType<typeof openDatabase>;
  /** This replica's own (monotonic) clock; frozen while it is "stopped". */
  mono: { now: number };
}

describe('leader-gated engines on a shared store', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-leader-gated-'));
  let file: string;
  const clock = createFakeClock(Date.parse('2025-10-05T00:00:30Z'));
  const replicas: Replica[] = [];
  const pipelines = { p: { schedule: '* * * * *', catchup: false, overlap: 'queue', tasks: [{ id: 'a', operator: 'command' }] } };

  function replica(name: string): Replica {
    const db = openDatabase({ file });
    const logger = recordingLogger();
    const mono = { now: 0 };
    const leadership = createLeaseLeadership({ db, clock, logger, leaseMs: LEASE, renewIntervalMs: 3_600_000, id: name, monotonic: () => mono.now });
    const engine = createEngine({
      config: { file: path.join(dir, 'supervisor.yaml'), config: configSchema.parse({ pipelines }), variables: {} },
      db,
      clock,
      logger,
      operators: { command: ok },
      random: () => 0.5,
      pollIntervalMs: 3_600_000,
      statusDir: path.join(dir, `status-${name}`),
      leaderGated: true,
      fence: (w) => leadership.fenced(w),
    });
    const roles = createLeaderRoles({ leadership, engine, alerts: { setRole: () => Promise.resolve() }, logger, catchupWindowMs: 3_600_000 });
    const events: RunEvent[] = [];
    engine.runEvents$.subscribe((e) => events.push(e));
    const r = { name, engine, leadership, roles, events, logger, db, mono };
    replicas.push(r);
    return r;
  }
  const start = async (r: Replica): Promise<void> => {
    await r.leadership.start();
    await r.engine.start();
    await r.roles.start();
  };
  const cycle = async (r: Replica): Promise<void> => {
    (r.leadership as unknown as { cycle(): void }).cycle();
    await r.roles.settled();
  };
  /** Time passes; the live replicas renew every 2 s (their own clocks move), frozen ones do not. */
  async function pass(ms: number, live: Replica[]): Promise<void> {
    for (let t = 0; t < ms; t += 2_000) {
      const step = Math.min(2_000, ms - t);
      for (const r of live) r.mono.now += step;
      await clock.advance(step);
      for (const r of live) await cycle(r);
      for (const r of replicas) await r.roles.settled();
    }
  }
  const runs = (r: Replica) => r.engine.store.listRuns({ pipeline: 'p' }).sort((a, b) => a.logicalDate - b.logicalDate);
  const ranBy = (r: Replica): string[] => [...new Set(r.events.filter((e) => e.type === 'run' && e.state === 'running').map((e) => iso(e.logicalDate)))].sort();

  beforeEach(() => {
    file = path.join(fs.mkdtempSync(path.join(dir, 'case-')), 'state.db');
    clock.set(Date.parse('2025-10-05T00:00:30Z'));
    replicas.length = 0;
  });
  afterEach(async () => {
    for (const r of replicas) {
      await r.roles.stop();
      await r.engine.stop();
      await r.leadership.stop();
      r.db.close();
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('only the leader fires and runs ticks; after a takeover a late-waking leader creates nothing and steps down once', async () => {
    const a = replica('a');
    const b = replica('b');
    await start(a);
    await start(b);
    expect([a.leadership.isLeader(), b.leadership.isLeader()]).toEqual([true, false]);
    await pass(40_000, [a, b]); // tick 00:01 on both replicas' crons: only a's is subscribed
    expect(runs(a).map((r) => [iso(r.logicalDate), r.state])).toEqual([['2025-10-05T00:01:00.000Z', 'success']]);
    expect(ranBy(a)).toEqual(['2025-10-05T00:01:00.000Z']);
    expect(ranBy(b)).toEqual([]);

    // a is stopped (SIGSTOP): it renews nothing and its own clock does not move; b takes over
    await pass(12_000, [b]);
    expect(b.leadership.epoch()).toBe(2);
    // time reaches 00:02: a's cron timer fires as it wakes, before any renewal
    await pass(Date.parse('2025-10-05T00:02:00Z') - clock.now(), [b]);
    await clock.flush();
    for (const r of replicas) await r.roles.settled();
    expect(a.leadership.isLeader()).toBe(false);
    expect(a.logger.lines.filter((l) => l.msg.includes('no longer leads'))).toHaveLength(1);
    expect(runs(b).map((r) => [iso(r.logicalDate), r.state])).toEqual([
      ['2025-10-05T00:01:00.000Z', 'success'],
      ['2025-10-05T00:02:00.000Z', 'success'],
    ]);
    expect(ranBy(a)).toEqual(['2025-10-05T00:01:00.000Z']);
    expect(ranBy(b)).toEqual(['2025-10-05T00:02:00.000Z']);
    // a stays out: the next tick is b's alone
    await pass(60_000, [a, b]);
    expect(ranBy(a)).toEqual(['2025-10-05T00:01:00.000Z']);
    expect(runs(b).map((r) => iso(r.logicalDate))).toEqual(['2025-10-05T00:01:00.000Z', '2025-10-05T00:02:00.000Z', '2025-10-05T00:03:00.000Z']);
  });

  it('a new leader fires the ticks of the gap late (catchup: false), each once, within the catch-up window', async () => {
    const a = replica('a');
    const b = replica('b');
    await start(a);
    await start(b);
    await pass(40_000, [a, b]); // 00:01 by a
    // a dies: ticks 00:02 and 00:03 pass with nobody leading (b is not asked until 00:03:30)
    await a.roles.stop();
    await a.engine.stop();
    await clock.advance(Date.parse('2025-10-05T00:03:30Z') - clock.now());
    expect(runs(b)).toHaveLength(1);
    await cycle(b);
    await clock.flush();
    await b.roles.settled();
    const all = runs(b);
    expect(all.map((r) => [iso(r.logicalDate), r.state, r.kind])).toEqual([
      ['2025-10-05T00:01:00.000Z', 'success', 'cron'],
      ['2025-10-05T00:02:00.000Z', 'success', 'cron'],
      ['2025-10-05T00:03:00.000Z', 'success', 'cron'],
    ]);
    // fired late: queued at the takeover
    expect(all.slice(1).map((r) => iso(r.queuedAt))).toEqual(['2025-10-05T00:03:30.000Z', '2025-10-05T00:03:30.000Z']);
    expect(ranBy(b)).toEqual(['2025-10-05T00:02:00.000Z', '2025-10-05T00:03:00.000Z']);
  });
});
