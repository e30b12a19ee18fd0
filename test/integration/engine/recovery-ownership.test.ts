/**
 * Crash recovery's ownership rules across hosts and the adoption of tries on task workers, on
 * both backends (an SQLite file and a fresh database on the stack's PostgreSQL):
 *
 * - a run's owner is its claimer's id `host:pid:random`: alive when it executes here, holds the
 *   lease, or is a live pid of this host; an owner on another host that does not lead is gone
 *   (whatever pid of ours its number happens to match), and its process groups are not ours to
 *   kill; runs of an older version (owner_pid only) are judged by the pid here;
 * - a try handed to a worker is adopted: the task stays running with its one attempt, the
 *   runner waits for that very try (its worker finishes it: one attempt, success), and a try
 *   whose worker stopped heartbeating fails SUP_ERR_WORKER_LOST and is retried per policy;
 * - the recovery's writes are fenced: a refused fence writes nothing;
 * - task_queue rows that ended are pruned after the retention, and with their run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SupervisorError } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { systemClock } from '../../../src/shared/clock';
import { createWorkerExecutor } from '../../../src/engine/executor';
import { isRunOwnerAlive, parseOwner, recoverOrphanedRuns } from '../../../src/engine/recovery';
import { executeRun } from '../../../src/engine/runner';
import { openDatabase } from '../../../src/store/database';
import { createRunStore, type RunStore } from '../../../src/store/runs';
import { createTaskQueueStore, type TaskQueueStore } from '../../../src/store/task-queue';
import type { SqlDatabase } from '../../../src/store/sql';
import { pipelineFrom } from '../../unit/engine/helpers';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(60_000);

const HOST = os.hostname();
const DEAD_PID = 999_999_999;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each(['sqlite', 'postgres'] as const)('crash recovery across hosts on %s', (backend) => {
  let db: SqlDatabase;
  let fresh: FreshPostgres | undefined;
  let dir: string | undefined;
  let runs: RunStore;
  let queue: TaskQueueStore;
  let seq = 0;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (backend === 'postgres') {
      await ensureServices(['postgres']);
      fresh = await createFreshPostgres('recovery');
      db = openDatabase({ store: fresh.settings });
    } else {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-recovery-'));
      db = openDatabase({ store: { kind: 'sqlite', path: path.join(dir, 'state.db') } });
    }
    runs = createRunStore(db);
    queue = createTaskQueueStore(db);
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    db?.close();
    await fresh?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A run claimed by `owner` (and `pid`), its task `t` running try 1. */
  function runningRun(owner: string | undefined, pid: number, taskPid: number | null = null): string {
    const pipeline = `p${++seq}`;
    const { run } = runs.insertRun({ pipeline, logicalDate: 1_000 * seq, kind: 'manual', firedAt: 1, queuedAt: 1 });
    expect(runs.claimRun(run.id, pid, 2, owner)).toBe(true);
    runs.upsertTask({
      runId: run.id,
      taskId: 't',
      state: 'running',
      tryNumber: 1,
      maxTries: 2,
      startedAt: 3,
      endedAt: null,
      nextTryAt: null,
      pid: taskPid,
      result: null,
      reason: null,
    });
    runs.startAttempt({ runId: run.id, taskId: 't', tryNumber: 1, startedAt: 3 });
    return run.id;
  }

  const recover = (extra: Partial<Parameters<typeof recoverOrphanedRuns>[0]> = {}) =>
    recoverOrphanedRuns({ store: runs, logger: silentLogger, now: () => 10, selfId: `${HOST}:${process.pid}:self`, killGraceMs: 500, statusDir: null, ...extra });

  it('records the owner id on the claim; releasing the pid releases the owner', () => {
    const id = runningRun(`${HOST}:4242:abcd`, 4242);
    expect(runs.getRun(id)).toMatchObject({ state: 'running', ownerPid: 4242, owner: `${HOST}:4242:abcd` });
    expect(runs.ownersOf([id, 'no-such-run'])).toEqual(new Map([[id, `${HOST}:4242:abcd`]]));
    runs.updateRun(id, { state: 'queued', ownerPid: null });
    expect(runs.getRun(id)).toMatchObject({ state: 'queued', ownerPid: null, owner: null });
    // a transition conditional on the owner: recovery never steals a run claimed again meanwhile
    const other = runningRun('h:9:zz', 9);
    expect(runs.transitionRun(other, ['running'], { state: 'queued', ownerPid: null }, 'another:1:xx')).toBe(false);
    expect(runs.transitionRun(other, ['running'], { state: 'queued', ownerPid: null }, 'h:9:zz')).toBe(true);
    expect(parseOwner('a.b-c:12:ff')).toEqual({ host: 'a.b-c', pid: 12 });
    expect(parseOwner('not an id')).toBeNull();
  });

  it('judges owners: live pid here, the lease holder, executing here are alive; another host not leading, a dead pid, a stale self are not', async () => {
    const sleeper = spawn('sleep', ['60']);
    children.push(sleeper);
    const livePid = sleeper.pid!;
    const sameHostLive = runningRun(`${HOST}:${livePid}:aaaa`, livePid);
    const sameHostDead = runningRun(`${HOST}:${DEAD_PID}:bbbb`, DEAD_PID);
    // pid 1 is alive on this host, but on another host it means nothing
    const otherHost = runningRun('another-host:1:cccc', 1);
    const otherHostLeader = runningRun('leader-host:1:dddd', 1);
    const selfExecuting = runningRun(`${HOST}:${process.pid}:self`, process.pid);
    const legacyLive = runningRun(undefined, livePid);
    const legacyDead = runningRun(undefined, DEAD_PID);

    const o = { selfId: `${HOST}:${process.pid}:self`, leaseHolder: 'leader-host:1:dddd', executing: (id: string) => id === selfExecuting };
    const alive = (id: string): boolean => isRunOwnerAlive(runs.getRun(id)!, o);
    expect([sameHostLive, sameHostDead, otherHost, otherHostLeader, selfExecuting, legacyLive, legacyDead].map(alive)).toEqual([true, false, false, true, true, true, false]);
    // our id, not executing here: a stale claim (this process cannot be running it)
    expect(isRunOwnerAlive(runs.getRun(selfExecuting)!, { ...o, executing: () => false })).toBe(false);

    // the periodic pass while leading: only owners of this host
    const periodic = await recover({ ...o, onlyThisHost: true });
    expect(periodic.map((r) => r.runId).sort()).toEqual([sameHostDead, legacyDead].sort());
    expect(runs.getRun(otherHost)).toMatchObject({ state: 'running' });
    // the pass at a takeover: another host's owner that does not lead is gone too
    const recovered = await recover(o);
    expect(recovered.map((r) => r.runId)).toEqual([otherHost]);
    for (const id of [sameHostLive, otherHostLeader, selfExecuting, legacyLive]) expect(runs.getRun(id)).toMatchObject({ state: 'running' });
    for (const id of [sameHostDead, otherHost, legacyDead]) {
      expect(runs.getRun(id)).toMatchObject({ state: 'queued', ownerPid: null, owner: null });
      expect(runs.getTask(id, 't')).toMatchObject({ state: 'retrying', pid: null });
      expect(runs.listAttempts(id, 't')[0]).toMatchObject({ state: 'failed', error: expect.stringMatching(/^orphaned \(SUP_ERR_ORPHANED\)/) });
    }
    expect(runs.getRun(otherHost)!.reason).toBe('recovered after a crash of another-host:1:cccc');
    sleeper.kill('SIGKILL');
  });

  it("kills an orphaned process group only on its owner's host", async () => {
    const group = (): ChildProcess => {
      const c = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
      children.push(c);
      return c;
    };
    const here = group();
    const there = group();
    const local = runningRun(`${HOST}:${DEAD_PID}:eeee`, DEAD_PID, here.pid ?? null);
    const remote = runningRun('another-host:4:ffff', 4, there.pid ?? null);
    const recovered = await recover({ executing: (id) => id !== local && id !== remote });
    expect(recovered.find((r) => r.runId === local)?.killedGroups).toEqual([here.pid]);
    // the same number on another host is another process: left alone (its own task wrapper ends it there)
    expect(recovered.find((r) => r.runId === remote)?.killedGroups).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    expect(pidAlive(here.pid!)).toBe(false);
    expect(pidAlive(there.pid!)).toBe(true);
    there.kill('SIGKILL');
  });

  it('writes nothing when its fence is refused', async () => {
    const id = runningRun('gone-host:7:abab', 7);
    const notLeader = (): never => {
      throw new SupervisorError('SUP_ERR_NOT_LEADER', 'the term ended');
    };
    await expect(recover({ executing: (r) => r !== id, fence: notLeader })).rejects.toMatchObject({ code: 'SUP_ERR_NOT_LEADER' });
    expect(runs.getRun(id)).toMatchObject({ state: 'running', owner: 'gone-host:7:abab' });
    expect(runs.getTask(id, 't')).toMatchObject({ state: 'running' });
    expect(runs.listAttempts(id, 't')[0]).toMatchObject({ state: 'running' });
    // and with the fence granted, the same recovery goes through inside it
    let fenced = 0;
    const out = await recover({
      executing: (r) => r !== id,
      fence: <T>(w: () => T): T => {
        fenced += 1;
        return db.transaction(w)();
      },
    });
    expect(out.map((r) => r.runId)).toEqual([id]);
    expect(fenced).toBe(1);
  });

  describe('a try on a task worker', () => {
    const pipeline = pipelineFrom('adopt', {
      tasks: [
        { id: 't', operator: 'command', retries: 1, retry_delay: '10ms' },
        { id: 'after', operator: 'command', upstream: ['t'] },
      ],
    });

    function executor(heartbeatTimeoutMs = 5_000) {
      return createWorkerExecutor({ db, runs, clock: systemClock, heartbeatTimeoutMs, pollIntervalMs: 20 });
    }

    /** The dead leader's run: task t's try 1 queued for a worker and claimed by `worker`. */
    function deadLeadersRun(worker: string): { runId: string; queueId: string } {
      const { run } = runs.insertRun({ pipeline: 'adopt', logicalDate: 1_000 * ++seq, kind: 'cron', firedAt: 1, queuedAt: 1 });
      expect(runs.claimRun(run.id, 1, 2, 'dead-leader-host:1:0000')).toBe(true);
      runs.upsertTask({
        runId: run.id,
        taskId: 't',
        state: 'running',
        tryNumber: 1,
        maxTries: 2,
        startedAt: 3,
        endedAt: null,
        nextTryAt: null,
        pid: null,
        result: null,
        reason: null,
      });
      runs.upsertTask({
        runId: run.id,
        taskId: 'after',
        state: 'none',
        tryNumber: 0,
        maxTries: 1,
        startedAt: null,
        endedAt: null,
        nextTryAt: null,
        pid: null,
        result: null,
        reason: null,
      });
      runs.startAttempt({ runId: run.id, taskId: 't', tryNumber: 1, startedAt: 3 });
      const queueId = `q-${seq}`;
      const ctx = { pipeline: 'adopt', taskId: 't', runId: run.id, logicalDate: run.logicalDate, tryNumber: 1, maxTries: 2, params: {}, conf: {}, upstream: [], configDir: '/tmp' };
      queue.enqueue({ id: queueId, runId: run.id, taskId: 't', tryNumber: 1, operator: 'command', context: ctx, createdAt: Date.now() });
      expect(queue.claim(worker, Date.now())?.id).toBe(queueId);
      return { runId: run.id, queueId };
    }

    /** Acts as a live worker `name`: claims each queued try and finishes it done. */
    function liveWorker(name: string): () => void {
      const timer = setInterval(() => {
        const row = queue.claim(name, Date.now());
        if (row) queue.finish(row.id, name, { state: 'done', outcome: { exitCode: 0 } }, Date.now());
      }, 20);
      return () => clearInterval(timer);
    }

    /** The new leader: recovery with the executor's canAdopt, then the dispatcher's claim and the runner. */
    async function newLeader(runId: string, ex: ReturnType<typeof executor>) {
      const recovered = await recover({ canAdopt: (r, t, n) => ex.canAdopt?.(r, t, n) ?? false, executing: () => false });
      const rec = recovered.find((r) => r.runId === runId)!;
      expect(runs.claimRun(runId, process.pid, Date.now(), `${HOST}:${process.pid}:self`)).toBe(true);
      // the daemon's registry only needs the names: the tries run on the (test's) workers
      const operators = { command: () => Promise.reject(new Error('ran in the daemon')) };
      const done = executeRun(
        { store: runs, operators, clock: systemClock, logger: silentLogger, emit: () => undefined, configDir: '/tmp', random: () => 0.5, executor: ex },
        pipeline,
        runId,
        new AbortController().signal,
      );
      return { rec, done };
    }

    it('is adopted, not re-run: the runner waits for the same try, its worker finishes it, the run goes on once', async () => {
      const ex = executor();
      const { runId, queueId } = deadLeadersRun('w1');
      const beat = setInterval(() => queue.heartbeat('w1', [queueId], Date.now()), 50);
      let stopWorker = (): void => undefined;
      try {
        const { rec, done } = await newLeader(runId, ex);
        expect(rec).toMatchObject({ adoptedTasks: ['t'], retriedTasks: [], killedGroups: [] });
        // kept running with its one attempt, while its worker still runs it
        expect(runs.getTask(runId, 't')).toMatchObject({ state: 'running', tryNumber: 1 });
        await new Promise((r) => setTimeout(r, 200));
        expect(queue.get(queueId)).toMatchObject({ state: 'claimed', claimedBy: 'w1', cancelRequested: null });
        expect(queue.finish(queueId, 'w1', { state: 'done', outcome: { result: { rows: 7 }, exitCode: 0 } }, Date.now())).toBe(true);
        stopWorker = liveWorker('w3');
        const run = await done;
        expect(run.state).toBe('success');
        expect(runs.listAttempts(runId, 't').map((a) => [a.tryNumber, a.state])).toEqual([[1, 'success']]);
        expect(runs.getTask(runId, 't')).toMatchObject({ state: 'success', tryNumber: 1, result: { rows: 7 } });
        // no second try was queued; the task after it ran once
        expect(queue.findTry(runId, 't', 2)).toBeNull();
        expect(queue.findTry(runId, 'after', 1)).toMatchObject({ state: 'done', claimedBy: 'w3' });
        expect(runs.getTask(runId, 'after')).toMatchObject({ state: 'success', tryNumber: 1 });
        expect(runs.getLogs(runId, 't')[0]!.content).toContain('[supervisor] try 1 adopted after a failover (claimed on worker w1)');
      } finally {
        clearInterval(beat);
        stopWorker();
      }
    });

    it('whose worker stopped heartbeating too: SUP_ERR_WORKER_LOST after the timeout, retried per policy', async () => {
      const ex = executor(300);
      const { runId, queueId } = deadLeadersRun('w-gone');
      const { rec, done } = await newLeader(runId, ex);
      expect(rec.adoptedTasks).toEqual(['t']);
      // try 2 goes to the queue; a live worker finishes it and the task after it
      const stopWorker = liveWorker('w2');
      try {
        const run = await done;
        expect(run.state).toBe('success');
      } finally {
        stopWorker();
      }
      expect(queue.get(queueId)).toMatchObject({ state: 'lost' });
      const tries = runs.listAttempts(runId, 't');
      expect(tries.map((a) => [a.tryNumber, a.state])).toEqual([
        [1, 'failed'],
        [2, 'success'],
      ]);
      expect(tries[0]!.error).toMatch(/^worker w-gone stopped heartbeating at /);
      expect(queue.findTry(runId, 't', 2)).toMatchObject({ state: 'done', claimedBy: 'w2' });
    });
  });

  it('prunes the task_queue rows that ended before the retention, and a run deleted takes its rows with it', () => {
    const id = runningRun('h:1:aa', 1);
    const ctx = { pipeline: 'x', taskId: 't', runId: id, logicalDate: 0, tryNumber: 1, maxTries: 1, params: {}, conf: {}, upstream: [], configDir: '/tmp' };
    for (const [n, taskId] of [
      [1, 'old'],
      [2, 'new'],
      [3, 'live'],
    ] as const)
      queue.enqueue({ id: `prune-${id}-${n}`, runId: id, taskId, tryNumber: 1, operator: 'command', context: { ...ctx, taskId }, createdAt: n });
    for (const [taskId, at] of [
      ['old', 100],
      ['new', 5_000],
    ] as const) {
      const row = queue.claim('w', at)!;
      expect(row.taskId).toBe(taskId);
      queue.finish(row.id, 'w', { state: 'done', outcome: {} }, at);
    }
    expect(queue.pruneEnded(1_000)).toBeGreaterThanOrEqual(1);
    expect(queue.findTry(id, 'old', 1)).toBeNull();
    expect(queue.findTry(id, 'new', 1)).toMatchObject({ state: 'done' });
    expect(queue.findTry(id, 'live', 1)).toMatchObject({ state: 'queued' });
    runs.deleteRun(id);
    expect(queue.findTry(id, 'new', 1)).toBeNull();
    expect(queue.findTry(id, 'live', 1)).toBeNull();
  });
});
